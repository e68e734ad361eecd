#pragma once

// A synchronous client of SchedulerService that finds the leader by itself: a write sent to
// a follower comes back FAILED_PRECONDITION with the leader's address in the trailing
// metadata (`leader-addr`), and the client sends the same request there. While no server
// answers, or none knows a leader yet (UNAVAILABLE), it retries with backoff for a few
// seconds, trying every given address in turn; an overloaded leader (RESOURCE_EXHAUSTED)
// is asked again after a backoff. Submissions carry an idempotency key, so a retry of one
// whose answer was lost cannot create a second job.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/duration.h"
#include "proto/nomad_lite.grpc.pb.h"

namespace nomad::cli {

// The longest a server holds a WaitJob call (WaitJobRequest.timeout_ms 0 asks for this).
inline constexpr Millis kLongestWait{60'000};

struct RetryPolicy {
  Millis unavailable_budget{5000};  // keep retrying UNAVAILABLE (and overload) this long
  Millis call_timeout{10'000};      // deadline of each attempt
  int max_redirects = 5;            // leader hops per call
  Millis initial_backoff{50};
  Millis max_backoff{500};
};

class Client {
 public:
  explicit Client(std::vector<std::string> addresses, RetryPolicy policy = {});

  grpc::Status submit_job(const nomad_lite::SubmitJobRequest& request,
                          nomad_lite::SubmitJobResponse* response);
  grpc::Status get_job_status(const nomad_lite::GetJobStatusRequest& request,
                              nomad_lite::GetJobStatusResponse* response);
  grpc::Status list_jobs(const nomad_lite::ListJobsRequest& request,
                         nomad_lite::ListJobsResponse* response);
  grpc::Status cancel_job(const nomad_lite::CancelJobRequest& request,
                          nomad_lite::CancelJobResponse* response);
  grpc::Status get_cluster_status(const nomad_lite::GetClusterStatusRequest& request,
                                  nomad_lite::GetClusterStatusResponse* response);
  grpc::Status drain_node(const nomad_lite::DrainNodeRequest& request,
                          nomad_lite::NodeSchedulingResponse* response);
  grpc::Status set_node_eligibility(const nomad_lite::SetNodeEligibilityRequest& request,
                                    nomad_lite::NodeSchedulingResponse* response);
  // Membership (the changes go to the leader, as writes do).
  grpc::Status list_members(const nomad_lite::ListMembersRequest& request,
                            nomad_lite::ListMembersResponse* response);
  grpc::Status add_server(const nomad_lite::AddServerRequest& request,
                          nomad_lite::MembershipChangeResponse* response);
  grpc::Status remove_server(const nomad_lite::RemoveServerRequest& request,
                             nomad_lite::MembershipChangeResponse* response);

  // Periodic jobs (README "Periodic jobs"); the writes go to the leader.
  grpc::Status create_periodic_job(const nomad_lite::CreatePeriodicJobRequest& request,
                                   nomad_lite::PeriodicJobResponse* response);
  grpc::Status control_periodic_job(const nomad_lite::ControlPeriodicJobRequest& request,
                                    nomad_lite::PeriodicJobResponse* response);
  grpc::Status get_periodic_job(const nomad_lite::GetPeriodicJobRequest& request,
                                nomad_lite::PeriodicJobResponse* response);
  grpc::Status list_periodic_jobs(const nomad_lite::ListPeriodicJobsRequest& request,
                                  nomad_lite::ListPeriodicJobsResponse* response);

  // One WaitJob call: the server answers when the job is final or after request.timeout_ms
  // (0: its longest wait, 60 s) with done = false. Any node answers; while none does
  // (UNAVAILABLE) the other addresses are tried for `unavailable_budget`.
  grpc::Status wait_job(const nomad_lite::WaitJobRequest& request,
                        nomad_lite::WaitJobResponse* response, Millis unavailable_budget);

  // Streams a job's output, calling `on_chunk` for each chunk in order (no deadline: with
  // request.follow it lasts as long as the attempt). A stream cut by UNAVAILABLE is resumed,
  // at another address if need be, from the byte after the last one received; bytes the new
  // stream sends again are dropped, so `on_chunk` sees every byte once.
  grpc::Status stream_job_logs(nomad_lite::JobLogsRequest request,
                               const std::function<void(const nomad_lite::LogChunk&)>& on_chunk);

  // Hands leadership to `request.to()` (0: the most up-to-date follower); operator role.
  grpc::Status transfer_leadership(const nomad_lite::TransferLeadershipRequest& request,
                                   nomad_lite::TransferLeadershipResponse* response);

  // Every later read carries these: `consistent` makes it linearizable; `min_index` makes the
  // node answering wait until it applied that index. A write's answer raises the minimum to
  // the index it committed at, so this client reads its own writes on any node.
  void set_read_options(uint64_t min_index, bool consistent) {
    min_index_ = min_index;
    consistent_ = consistent;
  }
  uint64_t min_index() const { return min_index_; }
  // `operator snapshot save`: the leader's snapshot file, whole, into *bytes (a follower
  // sends the call to the leader). No deadline: a large state takes a while to send.
  grpc::Status save_snapshot(std::string* bytes);

  // The server ("host:port") that answered the last successful call; later calls go there
  // first, so that a client that found the leader keeps talking to it.
  const std::string& current_target() const { return target_; }

 private:
  using Rpc =
      std::function<grpc::Status(nomad_lite::SchedulerService::Stub&, grpc::ClientContext*)>;
  struct Limits {
    Millis call_timeout;        // deadline of each attempt; 0: none
    Millis unavailable_budget;  // keep retrying UNAVAILABLE (and overload) this long
  };
  grpc::Status call(const Rpc& rpc) {
    return call(rpc, {policy_.call_timeout, policy_.unavailable_budget});
  }
  grpc::Status call(const Rpc& rpc, Limits limits);
  nomad_lite::SchedulerService::Stub& stub(const std::string& address);

  std::vector<std::string> addresses_;
  RetryPolicy policy_;
  std::string target_;
  size_t next_address_ = 0;  // the address tried after target_ fails
  std::map<std::string, std::unique_ptr<nomad_lite::SchedulerService::Stub>> stubs_;
  uint64_t min_index_ = 0;
  bool consistent_ = false;
  // A read request with this client's read options (unless the request sets its own).
  template <class Request>
  Request with_read_options(Request request) const {
    request.set_min_index(std::max(request.min_index(), min_index_));
    if (consistent_) request.set_consistent(true);
    return request;
  }
};

// A channel to `address` whose reconnect backoff is short (gRPC's default waits a second
// or more before it tries a refused address again, longer than a leader election takes).
// `index` gives otherwise identical channels their own connection.
std::shared_ptr<grpc::Channel> make_channel(const std::string& address, int index = 0);

// The `leader-addr` a follower attached to its FAILED_PRECONDITION answer, or "".
std::string leader_address_hint(const grpc::ClientContext& context, const grpc::Status& status);

// One line for people: "job 'x' not found (NOT_FOUND)".
std::string describe(const grpc::Status& status);

}  // namespace nomad::cli
