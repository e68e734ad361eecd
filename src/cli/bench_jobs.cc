#include "cli/bench_jobs.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

#include "api/json.h"
#include "cli/bench_common.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/job_wait.h"

namespace nomad::cli {
namespace {

using Clock = std::chrono::steady_clock;
using bench::kCallTimeout;  // SubmitJob; WaitJob: its wait + this

// One job's way through the cluster: SubmitJob (following the leader), then WaitJob until
// the job is final. Each call keeps its own retry state.
class JobsBench {
 public:
  JobsBench(const BenchJobsOptions& options, std::vector<std::string> addresses)
      : options_(options),
        targets_(std::move(addresses)),
        key_prefix_(random_idempotency_key()),
        stubs_(bench::channels_per_address(options.channels, options.clients),
               [](const std::string& address, int channel) {
                 return nomad_lite::SchedulerService::NewStub(make_channel(address, channel));
               }),
        loop_(options.count, [this](uint64_t sequence) { start_job(sequence); }) {
    for (const char* status : {"completed", "failed", "cancelled"}) report_.statuses[status] = 0;
  }

  JobsBenchReport run() {
    start_ = Clock::now();
    stop_issuing_at_ = start_ + options_.duration;
    drain_deadline_ = stop_issuing_at_ + options_.drain;
    Clock::time_point finished = loop_.run(options_.clients, stop_issuing_at_);
    std::lock_guard lock(mu_);
    report_.seconds = std::chrono::duration<double>(finished - start_).count();
    return std::move(report_);
  }

  const std::string& first_error() const { return first_error_; }

 private:
  struct Call : bench::CallState {
    bool waiting = false;  // false: submitting
    nomad_lite::SubmitJobRequest submit;
    nomad_lite::SubmitJobResponse submitted;
    nomad_lite::WaitJobRequest wait;
    nomad_lite::WaitJobResponse waited;
    std::string acknowledged_by;  // the node that accepted the submission
  };

  void start_job(uint64_t sequence) {
    auto* call = new Call;
    call->submit.set_command(options_.command);
    call->submit.set_idempotency_key(key_prefix_ + "-" + std::to_string(sequence));
    call->target = targets_.current();
    call->started = Clock::now();
    send(call);
  }

  void send(Call* call) {
    // Never past the end of the run (at least 1 ms: 0 would ask for the longest wait).
    auto left = std::chrono::duration_cast<Millis>(drain_deadline_ - Clock::now());
    Millis wait = std::clamp(left, Millis(1), kLongestWait);
    grpc::ClientContext* context =
        call->new_context(std::chrono::system_clock::now() + wait + kCallTimeout);
    if (!call->waiting) {
      // The submission waits for the job too: one call per job while it ends within `wait`.
      call->submit.set_wait_ms(static_cast<uint64_t>(wait.count()));
      call->submitted.Clear();
      stubs_.get(call->target)
          ->async()
          ->SubmitJob(context, &call->submit, &call->submitted,
                      [this, call](grpc::Status status) { on_submitted(call, std::move(status)); });
      return;
    }
    call->wait.set_timeout_ms(static_cast<uint64_t>(wait.count()));
    call->waited.Clear();
    stubs_.get(call->target)
        ->async()
        ->WaitJob(context, &call->wait, &call->waited,
                  [this, call](grpc::Status status) { on_waited(call, std::move(status)); });
  }

  void on_submitted(Call* call, grpc::Status status) {
    if (auto leader = targets_.redirect(*call->context, status, &call->redirects)) {
      call->target = *leader;
      send(call);
      return;
    }
    auto now = Clock::now();
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        retry_unavailable(call, now, stop_issuing_at_)) {
      return;
    }
    if (!status.ok()) {
      finish(call, status, now);
      return;
    }
    const nomad_lite::Job& job = call->submitted.job();
    if (call->submitted.done() || job_is_final(job)) {
      finish(call, status, now, job.status());
      return;
    }
    call->waiting = true;
    call->acknowledged_by = call->target;
    call->retries = 0;
    call->wait.set_job_id(job.id());
    send(call);
  }

  void on_waited(Call* call, grpc::Status status) {
    auto now = Clock::now();
    if (status.ok()) {
      call->retries = 0;
      const nomad_lite::Job& job = call->waited.job();
      if (call->waited.done() || job_is_final(job)) {
        finish(call, status, now, job.status());
      } else if (now < drain_deadline_) {
        send(call);
      } else {
        finish(call,
               grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "job " + job.id() + " still " +
                                std::string(api::job_status_name(job.status())) +
                                " at the end of the run"),
               now);
      }
      return;
    }
    // A node asked instead of the one that acknowledged may not have applied the job yet.
    bool retryable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                     status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                     (status.error_code() == grpc::StatusCode::NOT_FOUND &&
                      call->target != call->acknowledged_by);
    if (retryable && retry_unavailable(call, now, drain_deadline_)) return;
    finish(call, status, now);
  }

  // Retries `call` after a short backoff while its budget (a few seconds, never past
  // `limit`) lasts: a submission at the next address (and every later one with it), a wait
  // at the next address. False when the budget is spent.
  bool retry_unavailable(Call* call, Clock::time_point now, Clock::time_point limit) {
    if (!call->may_retry(now, limit)) return false;
    if (!call->waiting) {
      call->target = targets_.move_past(call->target);
    } else if (call->retries % 2 == 1 || call->target != call->acknowledged_by) {
      // A wait stays with its node for one retry (a slow answer), then moves on.
      call->target = targets_.next(call->target);
    }
    call->retry_later([this, call] { send(call); });
    return true;
  }

  void finish(Call* call, const grpc::Status& status, Clock::time_point now,
              nomad_lite::JobStatus final_status = nomad_lite::JOB_STATUS_UNSPECIFIED) {
    auto latency = std::chrono::duration_cast<std::chrono::microseconds>(now - call->started);
    // Deleted before run() can wake up and destroy the channels (see bench.cc).
    delete call;
    {
      std::lock_guard lock(mu_);
      if (status.ok()) {
        ++report_.jobs;
        ++report_.statuses[std::string(api::job_status_name(final_status))];
        report_.latencies_us.push_back(
            static_cast<uint32_t>(std::min<int64_t>(latency.count(), UINT32_MAX)));
      } else {
        ++report_.errors;
        if (first_error_.empty()) first_error_ = describe(status);
      }
    }
    loop_.ended(now);
  }

  const BenchJobsOptions options_;
  bench::Targets targets_;
  const std::string key_prefix_;
  bench::StubPool<nomad_lite::SchedulerService::Stub> stubs_;
  Clock::time_point start_, stop_issuing_at_, drain_deadline_;
  std::mutex mu_;  // report_, first_error_
  JobsBenchReport report_;
  std::string first_error_;
  bench::ClosedLoop loop_;  // last: its jobs use the members above
};

}  // namespace

nlohmann::ordered_json bench_jobs_json(JobsBenchReport report) {
  auto& latencies = report.latencies_us;
  std::sort(latencies.begin(), latencies.end());
  double rate = report.seconds > 0 ? static_cast<double>(report.jobs) / report.seconds : 0.0;
  nlohmann::ordered_json statuses = nlohmann::ordered_json::object();
  for (const char* status : {"completed", "failed", "cancelled"}) {
    auto it = report.statuses.find(status);
    statuses[status] = it == report.statuses.end() ? 0 : it->second;
  }
  for (const auto& [status, count] : report.statuses) {
    if (!statuses.contains(status)) statuses[status] = count;
  }
  return nlohmann::ordered_json{
      {"jobs", report.jobs},
      {"errors", report.errors},
      {"seconds", bench::round_to(report.seconds, 3)},
      {"jobs_per_sec", bench::round_to(rate, 1)},
      {"p50_ms", bench::percentile_ms(latencies, 0.50)},
      {"p90_ms", bench::percentile_ms(latencies, 0.90)},
      {"p99_ms", bench::percentile_ms(latencies, 0.99)},
      {"statuses", std::move(statuses)},
  };
}

int run_bench_jobs(const BenchJobsOptions& options, const std::vector<std::string>& addresses,
                   std::ostream& out, std::ostream& err) {
  JobsBench bench(options, addresses);
  JobsBenchReport report = bench.run();
  uint64_t jobs = report.jobs, errors = report.errors;
  out << bench_jobs_json(std::move(report)).dump() << std::endl;
  if (errors > 0) {
    err << "nomad-lite: bench jobs: " << errors << " jobs failed to run or to finish in time; "
        << "the first: " << bench.first_error() << "\n";
  }
  return jobs > 0 ? 0 : 1;
}

}  // namespace nomad::cli
