#include "jobs/failure_reason.h"

namespace nomad::jobs {

const char* failure_reason_name(FailureReason reason) {
  switch (reason) {
    case FailureReason::kExitCode:
      return "exit_code";
    case FailureReason::kTimeout:
      return "timeout";
    case FailureReason::kSpawnError:
      return "spawn_error";
    case FailureReason::kLost:
      return "lost";
    case FailureReason::kDisconnected:
      return "disconnected";
    case FailureReason::kKilled:
      return "killed";
    case FailureReason::kDrained:
      return "drained";
    case FailureReason::kOom:
      return "oom";
  }
  return "unknown";
}

bool failure_reason_from_name(const std::string& name, FailureReason* reason) {
  for (FailureReason r :
       {FailureReason::kExitCode, FailureReason::kTimeout, FailureReason::kSpawnError,
        FailureReason::kLost, FailureReason::kDisconnected, FailureReason::kKilled,
        FailureReason::kDrained, FailureReason::kOom}) {
    if (name == failure_reason_name(r)) {
      *reason = r;
      return true;
    }
  }
  return false;
}

bool is_node_fault(FailureReason reason) {
  return reason == FailureReason::kLost || reason == FailureReason::kDisconnected;
}

bool is_drained(const std::string& reason) {
  return reason == failure_reason_name(FailureReason::kDrained);
}

}  // namespace nomad::jobs
