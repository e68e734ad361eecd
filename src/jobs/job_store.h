#pragma once

// The replicated state machine: every node applies the same committed commands in the same
// order and so holds the same jobs. Only the node loop thread mutates it; readers hold the
// node's shared lock.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "proto/nomad_lite.pb.h"
#include "raft/types.h"

namespace nomad::jobs {

// The outcome of applying one command, handed to the client that proposed it.
struct ApplyResult {
  Status status;         // a command that was valid when proposed may fail at apply time
  nomad_lite::Job job;   // the job the command created or changed
};

struct ListQuery {
  nomad_lite::JobStatus status = nomad_lite::JOB_STATUS_UNSPECIFIED;  // any
  std::string command_contains;
  size_t limit = 100;
  uint64_t before_submit_index = 0;  // page token: continue below this submission (0: newest)
};

struct ListPage {
  std::vector<nomad_lite::Job> jobs;  // newest first
  uint64_t next_before = 0;           // 0: this was the last page
  uint64_t total = 0;                 // matches over all pages
};

// The state of the store at one moment, taken cheaply on the loop thread (jobs are shared,
// never changed in place) and serialized elsewhere.
struct JobStoreImage {
  std::vector<std::shared_ptr<const nomad_lite::Job>> jobs;  // in submission order
  std::vector<std::pair<std::string, std::string>> idempotency_keys;

  std::string serialize() const;
};

class JobStore {
 public:
  ApplyResult apply(const raft::Entry& entry);

  const nomad_lite::Job* find(const std::string& id) const;
  ListPage list(const ListQuery& query) const;
  size_t size() const { return jobs_.size(); }

  JobStoreImage image() const;
  std::string snapshot() const { return image().serialize(); }
  Status restore(const std::string& data);

 private:
  ApplyResult submit(const nomad_lite::SubmitJobCommand& command, raft::Index index);
  ApplyResult cancel(const nomad_lite::CancelJobCommand& command);

  // Copy-on-write: a change replaces the pointer, so an image taken earlier stays intact.
  std::unordered_map<std::string, std::shared_ptr<const nomad_lite::Job>> jobs_;
  std::map<uint64_t, std::string> by_submit_index_;  // submission order
  std::unordered_map<std::string, std::string> idempotency_keys_;  // key -> job id
};

const char* status_name(nomad_lite::JobStatus status);  // "pending", "running", ...
bool is_final(nomad_lite::JobStatus status);

}  // namespace nomad::jobs
