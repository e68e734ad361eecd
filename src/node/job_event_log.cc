#include "node/job_event_log.h"

#include <string>
#include <vector>

#include "common/log.h"

namespace nomad::node {

namespace {

void log_job_event(const jobs::JobEvent& e, common::InfoLineBatch& out) {
  using Kind = jobs::JobEvent::Kind;
  const std::string msg = std::string("job ") + jobs::job_event_name(e.kind);
  switch (e.kind) {
    case Kind::kSubmitted:
      out.add(msg, {{"job_id", e.job_id}});
      return;
    case Kind::kPlaced:
    case Kind::kStarted:
      out.add(msg, {{"job_id", e.job_id}, {"attempt", e.attempt}, {"worker", e.node}});
      return;
    case Kind::kCancelled:
      if (e.attempt == 0) {
        out.add(msg, {{"job_id", e.job_id}});
      } else {
        out.add(msg, {{"job_id", e.job_id}, {"attempt", e.attempt}, {"worker", e.node}});
      }
      return;
    case Kind::kCompleted:
      out.add(msg, {{"job_id", e.job_id},
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
    out.add(msg, {{"job_id", e.job_id},
                  {"attempt", e.attempt},
                  {"worker", e.node},
                  {"exit_code", *e.exit_code},
                  {"reason", reason},
                  {"retry", e.retry}});
  } else if (e.signal != 0) {
    out.add(msg, {{"job_id", e.job_id},
                  {"attempt", e.attempt},
                  {"worker", e.node},
                  {"signal", e.signal},
                  {"reason", reason},
                  {"retry", e.retry}});
  } else {
    out.add(msg, {{"job_id", e.job_id},
                  {"attempt", e.attempt},
                  {"worker", e.node},
                  {"reason", reason},
                  {"retry", e.retry}});
  }
}

}  // namespace

void log_job_events(const std::vector<jobs::JobEvent>& events) {
  common::InfoLineBatch out;
  for (const auto& e : events) log_job_event(e, out);
}

}  // namespace nomad::node
