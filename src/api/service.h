#pragma once

// The transport-neutral client API: validation, limits, the leader check, reads and waits, in
// one place. The gRPC adapter (and the HTTP one) only translate requests and errors. It reaches
// the cluster only through api::ClusterPort.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "api/auth.h"
#include "api/cluster_port.h"
#include "api/job_changes.h"
#include "api/membership_port.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::api {

enum class Code {
  kOk,
  kInvalidArgument,  // the request is wrong: fix it, do not retry as is
  kNotFound,
  kNotLeader,           // retry at leader_address
  kUnavailable,         // no leader known, or the outcome is unknown: retry later
  kResourceExhausted,   // too much load: back off and retry
  kFailedPrecondition,  // the request cannot apply in the current state (e.g. job finished)
  kInternal,
  kUnauthenticated,   // no token, or a wrong one (--token-file)
  kPermissionDenied,  // the token's role may not do this
  kAlreadyExists,     // an idempotency key reused with a different request
};

struct Error {
  Code code = Code::kOk;
  std::string message;
  uint64_t leader_id = 0;  // kNotLeader: the leader, when known
  std::string leader_address;
  // kUnavailable for a reason of this node's own (its disk is full): retrying here cannot
  // help, another node can.
  bool retry_elsewhere = false;
};

template <class T>
struct Outcome {
  Error error;
  T value{};           // value-initialized: an error outcome holds no stray bits
  uint64_t index = 0;  // a write: the log index it committed at
  bool ok() const { return error.code == Code::kOk; }
};

// A refusal as the client API's error: kUnauthenticated or kPermissionDenied; kOk when allowed.
Error auth_error(AuthDecision decision);

inline constexpr size_t kMaxCommandBytes = 64 * 1024;
inline constexpr size_t kMaxEnvBytes = 64 * 1024;     // names and values of a job's environment
inline constexpr size_t kMaxListPageBytes = 8 << 20;  // a page ends early rather than exceed it
inline constexpr size_t kMaxListLimit = 1000;
inline constexpr uint32_t kMaxRetries = 100;  // also of lost_retries
inline constexpr uint32_t kDefaultLostRetries = 3;
inline constexpr size_t kMaxAfter = 100;  // jobs one job may wait for (--after)
inline constexpr uint64_t kMaxWaitMs = 60'000;
// How long a read waits for this node to apply its min_index (or a ReadIndex) before it fails.
inline constexpr uint64_t kReadWaitMs = 5'000;
inline constexpr uint64_t kDefaultTransferMs = 5'000;
inline constexpr uint64_t kMaxTransferMs = 60'000;
inline constexpr uint64_t kDefaultDrainDeadlineMs = 3'600'000;           // 1 h, as Nomad's
inline constexpr uint64_t kMaxDrainDeadlineMs = 30ULL * 24 * 3'600'000;  // 30 days

// What is wrong with a submission ("" when nothing): the message a client gets back.
std::string submit_request_error(const nomad_lite::SubmitJobRequest& request);
// The job a valid submission creates, with a fresh id and stamped now; not yet committed.
nomad_lite::Job job_from_request(const nomad_lite::SubmitJobRequest& request);

class Service {
 public:
  // Adds a jobs listener to `port`: construct before the cluster member starts.
  explicit Service(ClusterPort& port, Authenticator auth = {});

  // Whether a request carrying `authorization` ("Bearer TOKEN", or "" when it has none) may
  // do what needs `role`. Always allowed when the server has no --token-file.
  Error authorize(std::string_view authorization, Role role) const {
    return auth_error(auth_.authorize(authorization, role));
  }
  const Authenticator& authenticator() const { return auth_; }

  // The membership commands (api/members.h); they answer UNAVAILABLE until a port is given.
  // Give before the server starts.
  void attach_membership(MembershipPort* port) { membership_ = port; }
  class Members members() const;  // defined in api/members.cc

  // Answers once the new job is committed and applied (or with an error); with wait_ms, once
  // it is final or wait_ms (at most kMaxWaitMs) has passed (see wait_submitted).
  void submit_job(const nomad_lite::SubmitJobRequest& request,
                  std::function<void(Outcome<nomad_lite::SubmitJobResponse>)> done);
  // The wait of a submission with wait_ms, for a job submitted already (on this node or, by a
  // follower, on the leader): `done` gets the job when final (done = true) or as it is when
  // wait_ms runs out. A wait that cannot be kept (the node stops) still answers with `job`.
  void wait_submitted(nomad_lite::Job job, uint64_t wait_ms,
                      std::function<void(Outcome<nomad_lite::SubmitJobResponse>)> done);
  void cancel_job(const nomad_lite::CancelJobRequest& request,
                  std::function<void(Outcome<nomad_lite::Job>)> done);

  // Read barriers (service_reads.cc). `done(error, applied)` once this node has applied
  // `min_index` and, with `consistent`, the leader's ReadIndex; UNAVAILABLE after kReadWaitMs.
  void read_barrier(uint64_t min_index, bool consistent,
                    std::function<void(Error, uint64_t applied)> done);
  // The same, blocking the calling thread (HTTP handlers, log streams).
  Error await_read(uint64_t min_index, bool consistent, uint64_t* applied = nullptr);
  // get_job after the request's barrier. A job this node does not know is confirmed missing
  // through a ReadIndex first: a follower never answers NOT_FOUND for a job the leader
  // acknowledged and it has yet to apply.
  void read_job(const nomad_lite::GetJobStatusRequest& request,
                std::function<void(Outcome<nomad_lite::GetJobStatusResponse>)> done);
  // list_jobs after the request's barrier.
  void read_list(const nomad_lite::ListJobsRequest& request,
                 std::function<void(Outcome<nomad_lite::ListJobsResponse>)> done);
  // Whether this node knows job `id`, confirming an unknown one through a ReadIndex (as
  // read_job). Blocks.
  bool knows_job_confirmed(const std::string& id);
  // Hands leadership on (operator role); answers once the new leader is known.
  void transfer_leadership(
      const nomad_lite::TransferLeadershipRequest& request,
      std::function<void(Outcome<nomad_lite::TransferLeadershipResponse>)> done);

  // Reads come from this node's applied state: any node answers.
  Outcome<nomad_lite::Job> get_job(const nomad_lite::GetJobStatusRequest& request) const;
  Outcome<nomad_lite::ListJobsResponse> list_jobs(const nomad_lite::ListJobsRequest& request) const;
  nomad_lite::GetClusterStatusResponse cluster_status() const;

  // Drain and eligibility of a node (api/node_scheduling.cc, README "Draining a node"). Each
  // answers once the change is committed and applied, with the node's state then.
  void drain_node(const nomad_lite::DrainNodeRequest& request,
                  std::function<void(Outcome<nomad_lite::NodeSchedulingResponse>)> done);
  void set_node_eligibility(const nomad_lite::SetNodeEligibilityRequest& request,
                            std::function<void(Outcome<nomad_lite::NodeSchedulingResponse>)> done);
  // `operator snapshot save`: the leader's applied state as a snapshot file
  // (storage/backup_file.h). A follower answers kNotLeader with the leader's address, so the
  // file always comes from the leader.
  Outcome<std::string> save_snapshot() const;

  // Periodic jobs (api/service_periodic.cc, README "Periodic jobs"). A bad schedule or zone
  // is kInvalidArgument with the parser's message. Writes answer once applied.
  void create_periodic(const nomad_lite::CreatePeriodicJobRequest& request,
                       std::function<void(Outcome<nomad_lite::PeriodicJobResponse>)> done);
  // Pause, resume, cancel (no tick after it) or run-now (one extra child, in `job`).
  void control_periodic(const nomad_lite::ControlPeriodicJobRequest& request,
                        std::function<void(Outcome<nomad_lite::PeriodicJobResponse>)> done);
  void read_periodic(const nomad_lite::GetPeriodicJobRequest& request,
                     std::function<void(Outcome<nomad_lite::PeriodicJobResponse>)> done);
  void read_periodic_list(const nomad_lite::ListPeriodicJobsRequest& request,
                          std::function<void(Outcome<nomad_lite::ListPeriodicJobsResponse>)> done);

  // The jobs with these ids as this node knows them now (job null: removed), for the event
  // stream. They share the store's immutable copies: no output tail is copied.
  struct JobRef {
    std::string id;
    std::shared_ptr<const nomad_lite::Job> job;
    std::string pending_reason;
  };
  std::vector<JobRef> find_jobs(const std::vector<std::string>& ids) const;
  // Jobs submitted and finished since the state began, and held now by status.
  jobs::JobTotals job_totals() const;

  // Answers once the job is final on this node, or after the request's timeout (done = false).
  void wait_job(const nomad_lite::WaitJobRequest& request,
                std::function<void(Outcome<nomad_lite::WaitJobResponse>)> done);

  // Blocks until this node's applied state has job `id` satisfying `ready`, woken by the
  // job's changes; false at `deadline`, at stop() or once `cancelled` holds.
  bool await_job(
      const std::string& id, const std::function<bool(const nomad_lite::Job&)>& ready,
      std::chrono::steady_clock::time_point deadline,
      const std::function<bool()>& cancelled = [] { return false; });
  // Wakes the waits on job `id` to look at their `cancelled` again (a client went away).
  void recheck(const std::string& id) { changes_.changed({id}); }
  // Ends every blocking wait (the server stops).
  void stop() { changes_.stop(); }

  // Streams an attempt's output through `write` (false: the client went away) from wherever
  // it is: this node's files, the node that ran it, or the replicated tail. Blocks; with
  // `follow` it returns when the attempt ends.
  using ChunkWriter = std::function<bool(const nomad_lite::LogChunk&)>;
  Error stream_logs(const nomad_lite::JobLogsRequest& request, const ChunkWriter& write,
                    const std::function<bool()>& cancelled);
  // The same from this node's own files only (what other nodes ask for).
  Error stream_local_logs(const nomad_lite::JobLogsRequest& request, const ChunkWriter& write,
                          const std::function<bool()>& cancelled);

 private:
  void propose(const nomad_lite::Command& command,
               std::function<void(Outcome<nomad_lite::Job>)> done,
               std::optional<SubmittedJob> submitted = std::nullopt);
  // The worker-only agents as GetClusterStatus lists them (agent = true).
  void add_agents(nomad_lite::GetClusterStatusResponse* r) const;
  // Proposes a SetNodeScheduling for a node of the cluster; answers with its state once applied.
  void propose_scheduling(const nomad_lite::SetNodeScheduling& change,
                          std::function<void(Outcome<nomad_lite::NodeSchedulingResponse>)> done);

  // What `read` returns of the applied job store.
  template <class F>
  auto read_jobs(F&& read) const {
    using R = std::invoke_result_t<F&, const jobs::JobStore&>;
    if constexpr (std::is_void_v<R>) {
      port_.read_jobs([&](const jobs::JobStore& s) { read(s); });
    } else {
      std::optional<R> out;
      port_.read_jobs([&](const jobs::JobStore& s) { out.emplace(read(s)); });
      return std::move(*out);
    }
  }

  ClusterPort& port_;
  Authenticator auth_;
  JobChanges changes_;
  MembershipPort* membership_ = nullptr;
};

}  // namespace nomad::api
