#include "jobs/job_events.h"

namespace nomad::jobs {

const char* job_event_name(JobEvent::Kind kind) {
  switch (kind) {
    case JobEvent::Kind::kSubmitted:
      return "submitted";
    case JobEvent::Kind::kPlaced:
      return "placed";
    case JobEvent::Kind::kStarted:
      return "started";
    case JobEvent::Kind::kCompleted:
      return "completed";
    case JobEvent::Kind::kFailed:
      return "failed";
    case JobEvent::Kind::kRetried:
      return "retried";
    case JobEvent::Kind::kLost:
      return "lost";
    case JobEvent::Kind::kCancelled:
      return "cancelled";
  }
  return "changed";
}

}  // namespace nomad::jobs
