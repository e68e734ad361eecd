#include "http/job_writer.h"

#include <future>
#include <thread>

#include "common/random_id.h"
#include "http/limits.h"
#include "http/majority_contact.h"
#include "jobs/job_store.h"

namespace nomad::http {
namespace {

using Clock = std::chrono::steady_clock;

// How long a write waits for a leader to be elected before answering 503.
constexpr auto kLeaderlessWait = 2s;
constexpr auto kRetryPause = 100ms;

std::string new_idempotency_key() { return "http-" + common::random_hex(16); }

api::Error unavailable(std::string message) {
  return {api::Code::kUnavailable, std::move(message), 0, {}};
}

}  // namespace

api::Outcome<nomad_lite::Job> JobWriter::write(
    const std::function<void(Done)>& local,
    const std::function<api::Outcome<nomad_lite::Job>(const std::string&)>& forward,
    bool* retried) {
  const auto start = Clock::now();
  const auto deadline = start + kWriteDeadline;
  api::Outcome<nomad_lite::Job> out;
  for (int round = 0;; ++round) {
    *retried = round > 0;
    // The node answers every proposal (applied, refused, or failed when leadership moves);
    // the deadline only guards against waiting forever on a node that is stuck.
    auto answer = std::make_shared<std::promise<api::Outcome<nomad_lite::Job>>>();
    auto future = answer->get_future();
    local([answer](api::Outcome<nomad_lite::Job> o) { answer->set_value(std::move(o)); });
    if (future.wait_until(deadline) == std::future_status::ready) {
      out = future.get();
    } else {
      out.error = unavailable(
          "the cluster did not answer in time; the request may or may not "
          "have been applied");
      return out;
    }
    if (out.error.code == api::Code::kNotLeader) out = forward(out.error.leader_address);
    if (out.error.code != api::Code::kUnavailable || out.error.retry_elsewhere || stopping_) {
      return out;
    }
    nomad_lite::GetClusterStatusResponse status = service_.cluster_status();
    bool leaderless = status.leader_id() == 0;
    if (leaderless && !hears_majority(status)) {
      // Keep what the failed round said (it may be "may or may not have been applied").
      out.error = unavailable(out.error.message + " (node " + std::to_string(status.node_id()) +
                              " is cut off from a majority of the cluster: send the request to "
                              "another node)");
      return out;
    }
    auto elapsed = Clock::now() - start;
    if (elapsed + kRetryPause >= (leaderless ? kLeaderlessWait : kWriteDeadline - 1s)) return out;
    std::this_thread::sleep_for(kRetryPause);  // backoff while a leader is elected
  }
}

void JobWriter::await_local(const std::string& id, bool (*ready)(const nomad_lite::Job&)) {
  // The follower applies within a heartbeat or two; the job's change wakes this wait.
  service_.await_job(id, ready, Clock::now() + 1s, [this] { return stopping_.load(); });
}

api::Outcome<nomad_lite::Job> JobWriter::submit(nomad_lite::SubmitJobRequest request,
                                                const std::string& authorization) {
  bool made_up_key = request.idempotency_key().empty();
  if (made_up_key) request.set_idempotency_key(new_idempotency_key());
  // The write only commits (here or on the leader); the wait, if asked for, is this node's.
  const uint64_t wait_ms = request.wait_ms();
  request.set_wait_ms(0);
  bool retried = false;
  auto out = write(
      [&](Done done) {
        service_.submit_job(request, [done = std::move(done)](
                                         api::Outcome<nomad_lite::SubmitJobResponse> submitted) {
          done({std::move(submitted.error), std::move(*submitted.value.mutable_job()),
                submitted.value.index()});
        });
      },
      [&](const std::string& leader) { return forwarder_.submit(leader, request, authorization); },
      &retried);
  if (out.ok()) {
    await_local(out.value.id(), [](const nomad_lite::Job&) { return true; });
    if (wait_ms > 0) out.value = wait(std::move(out.value), wait_ms);
  } else if (out.error.code == api::Code::kUnavailable && made_up_key) {
    out.error.message +=
        "; to retry without the risk of a second job, send \"idempotency_key\": \"" +
        request.idempotency_key() + "\"";
  }
  return out;
}

nomad_lite::Job JobWriter::wait(nomad_lite::Job job, uint64_t wait_ms) {
  auto answer = std::make_shared<std::promise<nomad_lite::Job>>();
  auto future = answer->get_future();
  service_.wait_submitted(std::move(job), wait_ms,
                          [answer](api::Outcome<nomad_lite::SubmitJobResponse> waited) {
                            answer->set_value(std::move(*waited.value.mutable_job()));
                          });
  return future.get();  // the node answers every wait: at its deadline at the latest
}

api::Outcome<nomad_lite::Job> JobWriter::cancel(const nomad_lite::CancelJobRequest& request,
                                                const std::string& authorization) {
  bool retried = false;
  auto out = write(
      [&](Done done) { service_.cancel_job(request, std::move(done)); },
      [&](const std::string& leader) { return forwarder_.cancel(leader, request, authorization); },
      &retried);
  auto final_here = [](const nomad_lite::Job& job) { return jobs::is_final(job.status()); };
  if (out.error.code == api::Code::kFailedPrecondition && retried) {
    // An earlier round may have cancelled it before its answer was lost.
    nomad_lite::GetJobStatusRequest get;
    get.set_job_id(request.job_id());
    auto job = service_.get_job(get);
    if (job.ok() && job.value.status() == nomad_lite::JOB_STATUS_CANCELLED) return job;
  }
  if (out.ok()) await_local(out.value.id(), final_here);
  return out;
}

}  // namespace nomad::http
