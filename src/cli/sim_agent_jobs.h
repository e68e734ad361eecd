#pragma once

// One simulated agent's jobs (`bench agents`), as the leader's AgentUpdates show them: every
// attempt placed on the agent is answered at once with a finish (exit 0, started at the same
// moment), which the agent owes the leader, and resends with each report, until an update
// shows the attempt ended or moved. Nothing is spawned. No locking: the caller serialises.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proto/nomad_lite.pb.h"

namespace nomad::cli {

class SimAgentJobs {
 public:
  explicit SimAgentJobs(uint64_t agent_id) : agent_id_(agent_id) {}

  // What one update changed, pointing into the update it came from.
  struct Changes {
    std::vector<const nomad_lite::Job*> placed;    // attempts on this agent seen the first time
    std::vector<const nomad_lite::Job*> finished;  // jobs seen completed, failed or cancelled
  };

  // Applies an update at `now_ms` (Unix ms): new attempts become owed finishes; owed finishes
  // the update shows applied (or no longer wanted) are dropped; a full update drops those of
  // jobs it does not list.
  Changes apply(const nomad_lite::AgentUpdate& update, int64_t now_ms);

  // Adds every owed finish to `report`.
  void add_owed(nomad_lite::WorkerReport* report) const;
  size_t owed() const { return owed_.size(); }

 private:
  uint64_t agent_id_;
  std::map<std::string, nomad_lite::JobFinished> owed_;  // by job id: its current attempt's
};

// The sequence number a job of this run carries in its idempotency key ("PREFIX-SEQ"), or 0
// when the job is not one of the run's.
uint64_t bench_job_sequence(const nomad_lite::Job& job, const std::string& key_prefix);

}  // namespace nomad::cli
