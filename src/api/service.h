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
  T value{};  // value-initialized: an error outcome holds no stray bits
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
inline constexpr uint64_t kMaxWaitMs = 60'000;

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

  // Reads come from this node's applied state: any node answers.
  Outcome<nomad_lite::Job> get_job(const nomad_lite::GetJobStatusRequest& request) const;
  Outcome<nomad_lite::ListJobsResponse> list_jobs(const nomad_lite::ListJobsRequest& request) const;
  nomad_lite::GetClusterStatusResponse cluster_status() const;

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
