// Reads that wait for this node's applied state to be recent enough: read-your-writes (a
// minimum index, typically the index a write committed at) and linearizable reads (ReadIndex).
// And leadership transfer, the other call that waits on the Raft loop.

#include <chrono>
#include <future>
#include <memory>

#include "api/service.h"

namespace nomad::api {
namespace {

Error unavailable(std::string message) { return {Code::kUnavailable, std::move(message), 0, {}}; }

std::chrono::steady_clock::time_point read_deadline() {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadWaitMs);
}

}  // namespace

void Service::read_barrier(uint64_t min_index, bool consistent,
                           std::function<void(Error, uint64_t)> done) {
  // Any applied state will do; the published applied index (at most a tick old) is a lower
  // bound of the state the read will see.
  if (min_index == 0 && !consistent) return done({}, port_.cluster_state().applied_index);
  port_.read_barrier(
      min_index, consistent, read_deadline(),
      [done = std::move(done), min_index](Status status, uint64_t applied) {
        if (status) return done({}, applied);
        std::string what =
            min_index ? "index " + std::to_string(min_index) : std::string("a consistent read");
        done(unavailable("cannot serve " + what + " here: " + status.message()), applied);
      });
}

Error Service::await_read(uint64_t min_index, bool consistent, uint64_t* applied) {
  auto result = std::make_shared<std::promise<std::pair<Error, uint64_t>>>();
  auto future = result->get_future();
  read_barrier(min_index, consistent, [result](Error e, uint64_t at) {
    result->set_value({std::move(e), at});
  });
  auto [error, at] = future.get();  // bounded: the barrier fails after kReadWaitMs
  if (applied) *applied = at;
  return error;
}

void Service::read_job(const nomad_lite::GetJobStatusRequest& request,
                       std::function<void(Outcome<nomad_lite::GetJobStatusResponse>)> done) {
  auto answer = [this, request, done](Error error, uint64_t applied, bool confirmed) {
    Outcome<nomad_lite::GetJobStatusResponse> out;
    if (error.code != Code::kOk) {
      out.error = std::move(error);
      done(std::move(out));
      return true;
    }
    auto job = get_job(request);
    if (job.error.code == Code::kNotFound && !confirmed) return false;
    out.error = std::move(job.error);
    if (out.ok()) *out.value.mutable_job() = std::move(job.value);
    out.value.set_index(applied);
    done(std::move(out));
    return true;
  };
  read_barrier(request.min_index(), request.consistent(),
               [this, answer, consistent = request.consistent()](Error e, uint64_t applied) {
                 if (answer(e, applied, consistent)) return;
                 // Unknown here: make sure nothing newer is committed before saying so.
                 read_barrier(0, true, [answer](Error e2, uint64_t applied2) {
                   answer(std::move(e2), applied2, true);
                 });
               });
}

void Service::read_list(const nomad_lite::ListJobsRequest& request,
                        std::function<void(Outcome<nomad_lite::ListJobsResponse>)> done) {
  read_barrier(request.min_index(), request.consistent(),
               [this, request, done = std::move(done)](Error e, uint64_t applied) {
                 Outcome<nomad_lite::ListJobsResponse> out;
                 if (e.code != Code::kOk) {
                   out.error = std::move(e);
                 } else {
                   out = list_jobs(request);
                   out.value.set_index(applied);
                 }
                 done(std::move(out));
               });
}

bool Service::knows_job_confirmed(const std::string& id) {
  auto known = [&] {
    return read_jobs([&](const jobs::JobStore& s) { return s.find(id) != nullptr; });
  };
  if (known()) return true;
  if (await_read(0, true).code != Code::kOk) return false;
  return known();
}

void Service::transfer_leadership(
    const nomad_lite::TransferLeadershipRequest& request,
    std::function<void(Outcome<nomad_lite::TransferLeadershipResponse>)> done) {
  uint64_t ms = request.timeout_ms() == 0 ? kDefaultTransferMs
                                          : std::min(request.timeout_ms(), kMaxTransferMs);
  uint64_t previous = port_.cluster_state().node_id;
  port_.transfer_leadership(
      request.to(), std::chrono::steady_clock::now() + std::chrono::milliseconds(ms),
      [done = std::move(done), previous](TransferResult r) {
        Outcome<nomad_lite::TransferLeadershipResponse> out;
        using C = TransferResult::Code;
        switch (r.code) {
          case C::kDone:
            out.value.set_leader_id(r.leader_id);
            out.value.set_leader_address(r.leader_address);
            out.value.set_term(r.term);
            out.value.set_previous_leader_id(previous);
            break;
          case C::kNotLeader:
            out.error = r.leader_id == 0
                            ? unavailable("no leader is elected yet; retry shortly")
                            : Error{Code::kNotLeader, r.detail, r.leader_id, r.leader_address};
            break;
          case C::kInvalidTarget:
            out.error = {Code::kInvalidArgument, r.detail, 0, {}};
            break;
          case C::kUnreachable:
            out.error = {Code::kFailedPrecondition, r.detail, 0, {}};
            break;
          case C::kTimeout:
            out.error = unavailable("leadership transfer timed out: " + r.detail);
            break;
          case C::kShutdown:
            out.error = unavailable("the node is shutting down; retry elsewhere");
            break;
        }
        done(std::move(out));
      });
}

}  // namespace nomad::api
