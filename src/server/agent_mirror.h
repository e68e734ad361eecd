#pragma once

// An agent's copy of its jobs as the leader sends them (InternalService.AgentStream): a
// jobs::JobStore filled from AgentUpdate messages rather than from Raft entries, so that the
// worker (worker/worker.h) watches it exactly as a server's worker watches its applied state.
// The leader's applied index stands for the applied index (the worker's lease waits for it).

#include <cstdint>
#include <string>
#include <vector>

#include "jobs/job_store.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::server {

class AgentMirror {
 public:
  // Applies one update: a full one replaces every job held (the first of each stream, also
  // after a leader change); the others replace or remove the jobs they name. Returns the ids
  // of the jobs that changed or went. An update from an older term than one seen is ignored
  // (a deposed leader's last words), as is one whose index goes back within a term.
  std::vector<std::string> apply(const nomad_lite::AgentUpdate& update);

  const jobs::JobStore& store() const { return store_; }
  // The applied index to hand to the worker: the highest the leaders' updates named.
  uint64_t applied_index() const { return applied_; }
  uint64_t term() const { return term_; }

 private:
  jobs::JobStore store_;
  uint64_t applied_ = 0;
  uint64_t term_ = 0;
};

}  // namespace nomad::server
