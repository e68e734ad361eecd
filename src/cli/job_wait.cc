#include "cli/job_wait.h"

#include <algorithm>

#include "api/json.h"
#include "cli/job_lookup.h"
#include "cli/output.h"
#include "common/unix_time.h"

namespace nomad::cli {
namespace {

using Clock = std::chrono::steady_clock;

// How long a wait without a deadline keeps trying while no server answers.
constexpr Millis kUnavailableWhileWaiting{60'000};

int print_final(const nomad_lite::Job& job, OutputFormat format, std::ostream& out) {
  print_job(out, job, format, common::unix_now_ms());
  out.flush();
  return job_exit_code(job).value_or(kExitError);
}

}  // namespace

bool job_is_final(const nomad_lite::Job& job) {
  switch (job.status()) {
    case nomad_lite::JOB_STATUS_COMPLETED:
    case nomad_lite::JOB_STATUS_FAILED:
    case nomad_lite::JOB_STATUS_CANCELLED:
      return true;
    default:
      return false;
  }
}

std::optional<int> job_exit_code(const nomad_lite::Job& job) {
  // A code a process cannot exit with (a negative one, say) is reported as a failure.
  auto own_code = [](int code) { return code >= 0 && code <= 255 ? code : kExitError; };
  switch (job.status()) {
    case nomad_lite::JOB_STATUS_COMPLETED:
      return job.has_exit_code() ? own_code(job.exit_code()) : 0;
    case nomad_lite::JOB_STATUS_CANCELLED:
      return kExitCancelled;
    case nomad_lite::JOB_STATUS_FAILED:
      break;
    default:
      return std::nullopt;
  }
  if (job.reason() == "timeout") return kExitJobTimeout;
  // Stopped by its own node, cut off from the leader ("disconnected"), counts as lost even
  // though a signal ended it.
  if (job.reason() == "lost" || job.reason() == "disconnected" || job.reason() == "spawn_error") {
    return kExitJobNotRun;
  }
  if (job.signal() > 0) return kExitSignalBase + job.signal();
  // A failed job never says 0: that would read as success.
  if (job.has_exit_code() && job.exit_code() != 0) return own_code(job.exit_code());
  return kExitError;
}

int wait_for_job(Client& client, const std::string& id, std::optional<Clock::time_point> deadline,
                 OutputFormat format, const std::string& what, std::ostream& out,
                 std::ostream& err) {
  std::string full_id = id;  // once known: the prefix is resolved by the first call
  bool resolved = false;
  nomad_lite::WaitJobResponse response;
  nomad_lite::JobStatus last_status = nomad_lite::JOB_STATUS_UNSPECIFIED;
  grpc::Status status;  // of the last call
  while (true) {
    Millis wait = kLongestWait;
    if (deadline) {
      wait = std::min(wait, std::chrono::duration_cast<Millis>(*deadline - Clock::now()));
    }
    if (wait.count() > 0) {
      auto call = [&](const std::string& job_id) {
        nomad_lite::WaitJobRequest request;
        request.set_job_id(job_id);
        request.set_timeout_ms(static_cast<uint64_t>(wait.count()));
        response.Clear();
        status = client.wait_job(request, &response, deadline ? wait : kUnavailableWhileWaiting);
        if (status.ok()) full_id = job_id;
        return status;
      };
      status = resolved ? call(full_id) : with_job_id(client, id, call);
      if (status.ok()) {
        resolved = true;
        last_status = response.job().status();
        if (response.done() || job_is_final(response.job())) {
          return print_final(response.job(), format, out);
        }
        continue;
      }
      // A server that did not answer in time is asked again; one that cannot be reached (the
      // client tried every address for a while) only until the deadline, if there is one.
      bool again = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                   (deadline && status.error_code() == grpc::StatusCode::UNAVAILABLE);
      if (!again) {
        err << "nomad-lite: " << what << ": " << describe(status) << "\n";
        return kExitError;
      }
      if (!deadline || Clock::now() < *deadline) continue;
    }
    // The deadline passed.
    err << "nomad-lite: " << what << ": gave up waiting (--timeout): job " << full_id;
    if (resolved) {
      err << " is still " << api::job_status_name(last_status);
    } else if (!status.ok()) {
      err << ": " << describe(status);
    }
    err << "\n";
    return kExitWaitTimeout;
  }
}

}  // namespace nomad::cli
