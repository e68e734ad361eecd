#pragma once

// What api::Service needs of the cluster member it serves, and nothing more: propose a
// command, read the applied jobs, wait for a job, the cluster as this node sees it, and a
// job's output (this node's files, or streamed from the node that ran the attempt). The
// production implementation (src/server/cluster_port_adapter.h) wraps node::Node, the worker's
// executor and the internal client; tests give a fake. The service never sees those.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "jobs/job_store.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::api {

// How a proposal ended.
struct ProposeResult {
  enum class Code {
    kApplied,     // committed and applied: `result` says what it did
    kNotLeader,   // this node is not the leader; leader_id / leader_address say who is, if known
    kRetry,       // leadership changed before the entry committed: it may or may not apply
    kOverloaded,  // too many proposals waiting
    kShutdown,
    kDiskFull,  // this node cannot write its log until space is freed; `detail` says where
  };
  Code code = Code::kApplied;
  jobs::ApplyResult result{};
  uint64_t leader_id = 0;
  std::string leader_address{};
  std::string detail{};
  uint64_t index = 0;  // kApplied: the log index the command committed at
};

// How a leadership transfer ended.
struct TransferResult {
  enum class Code { kDone, kNotLeader, kInvalidTarget, kUnreachable, kTimeout, kShutdown };
  Code code = Code::kDone;
  uint64_t leader_id = 0;  // kDone: the new leader; kNotLeader: the leader, if known
  std::string leader_address{};
  uint64_t term = 0;
  std::string detail{};
};

// A submission names its job, so that the leader can place it in the same round.
struct SubmittedJob {
  std::string job_id;
  std::string idempotency_key;
};

struct PeerStatus {
  uint64_t id = 0;
  std::string address;
  std::string role;
  bool alive = false;
  uint64_t match_index = 0;
  int64_t last_contact_ms = -1;
};

struct ClusterState {
  uint64_t node_id = 0;
  std::string role;
  uint64_t term = 0;
  uint64_t leader_id = 0;
  std::string leader_address;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  std::vector<PeerStatus> nodes;  // every voter, this node included
  bool tls = false;
  bool insecure = false;
};

// Bytes of one attempt's output as this node's files hold them.
struct LocalOutput {
  Status status;  // an error: this node has no such output
  std::string data;
  bool finished = false;   // the attempt is not running and `data` reached the end
  bool truncated = false;  // the file was cut at the output cap
};

class ClusterPort {
 public:
  virtual ~ClusterPort() = default;

  // Thread-safe. `done` runs once, on whatever thread the cluster answers on: keep it short.
  virtual void propose(const nomad_lite::Command& command, std::optional<SubmittedJob> submitted,
                       std::function<void(ProposeResult)> done) = 0;
  // Runs `read` with the applied job store, which does not change meanwhile.
  virtual void read_jobs(const std::function<void(const jobs::JobStore&)>& read) const = 0;
  virtual bool is_leader() const = 0;
  // `done(job, true)` once job `id` is final (job without an id: removed), or (job, false) at
  // `deadline`; (empty job, false) when the node stops first.
  virtual void wait_job(const std::string& id, std::chrono::steady_clock::time_point deadline,
                        std::function<void(nomad_lite::Job job, bool final)> done) = 0;
  virtual ClusterState cluster_state() const = 0;
  // `listener` hears the ids of the jobs that changed, after each apply; it must only take
  // note and return. Added before the cluster member starts.
  virtual void add_jobs_listener(std::function<void(const std::vector<std::string>&)> listener) = 0;

  // This node's own copy of an attempt's output: bytes [offset, offset + max) of its stdout
  // (stderr if from_stderr), waiting up to `wait_for` for the first byte while it runs.
  virtual LocalOutput read_local_output(const std::string& job_id, uint32_t attempt,
                                        bool from_stderr, uint64_t offset, size_t max,
                                        std::chrono::milliseconds wait_for) = 0;
  // Streams the output `request` names from node `node_id` through `write` (false: stop).
  // True when the node answered: it ended the stream well, or sent at least one chunk.
  virtual bool stream_remote_output(
      uint64_t node_id, const nomad_lite::JobLogsRequest& request,
      const std::function<bool(const nomad_lite::LogChunk&)>& write) = 0;

  // `done(ok, applied)` once this node has applied `min_index` and, with `linearizable`, the
  // leader's commit index confirmed by a heartbeat round (ReadIndex); an error at `deadline`.
  // Runs on a thread that may read the job store. The default (a member that is always up to
  // date) answers at once.
  virtual void read_barrier(uint64_t min_index, bool linearizable,
                            std::chrono::steady_clock::time_point deadline,
                            std::function<void(Status, uint64_t applied)> done) {
    (void)min_index, (void)linearizable, (void)deadline;
    done(Status::ok(), 0);
  }
  // On the leader: hands leadership to `target` (0: the most up-to-date follower); `done`
  // once another node leads or with the reason it could not.
  virtual void transfer_leadership(uint64_t target, std::chrono::steady_clock::time_point deadline,
                                   std::function<void(TransferResult)> done) {
    (void)target, (void)deadline;
    done({.code = TransferResult::Code::kInvalidTarget, .detail = "not supported here"});
  }
  // A snapshot file (storage/backup_file.h) of this node's applied state, as `operator
  // snapshot save` writes it, covering at least log index `min_index`; an error when this
  // member cannot make one.
  virtual Status save_backup(uint64_t min_index, std::string* file_bytes) {
    (void)min_index, (void)file_bytes;
    return Status::error("this cluster member cannot make snapshots");
  }
};

}  // namespace nomad::api
