#include "node/job_event_log.h"

#include <string>

#include "common/log.h"

namespace nomad::node {

void log_job_event(const jobs::JobEvent& e) {
  using Kind = jobs::JobEvent::Kind;
  const std::string msg = std::string("job ") + jobs::job_event_name(e.kind);
  switch (e.kind) {
    case Kind::kSubmitted:
      common::log_info(msg, {{"job_id", e.job_id}});
      return;
    case Kind::kPlaced:
    case Kind::kStarted:
      common::log_info(msg, {{"job_id", e.job_id}, {"attempt", e.attempt}, {"worker", e.node}});
      return;
    case Kind::kCancelled:
      if (e.attempt == 0) {
        common::log_info(msg, {{"job_id", e.job_id}});
      } else {
        common::log_info(msg, {{"job_id", e.job_id}, {"attempt", e.attempt}, {"worker", e.node}});
      }
      return;
    case Kind::kCompleted:
      common::log_info(msg, {{"job_id", e.job_id},
                             {"attempt", e.attempt},
                             {"worker", e.node},
                             {"exit_code", e.exit_code.value_or(0)}});
      return;
    case Kind::kFailed:
    case Kind::kRetried:
    case Kind::kLost:
      break;
  }
  // An ending: the exit code when the process exited, the signal when one killed it.
  const std::string_view reason = e.reason.empty() ? std::string_view("exit_code") : e.reason;
  if (e.exit_code) {
    common::log_info(msg, {{"job_id", e.job_id},
                           {"attempt", e.attempt},
                           {"worker", e.node},
                           {"exit_code", *e.exit_code},
                           {"reason", reason},
                           {"retry", e.retry}});
  } else if (e.signal != 0) {
    common::log_info(msg, {{"job_id", e.job_id},
                           {"attempt", e.attempt},
                           {"worker", e.node},
                           {"signal", e.signal},
                           {"reason", reason},
                           {"retry", e.retry}});
  } else {
    common::log_info(msg, {{"job_id", e.job_id},
                           {"attempt", e.attempt},
                           {"worker", e.node},
                           {"reason", reason},
                           {"retry", e.retry}});
  }
}

}  // namespace nomad::node
