#pragma once

// Why an attempt, and then its job, failed: the `reason` of Attempt and Job on the wire and in
// JSON, and of the JobFinished a worker reports. The names are part of the API (scripts match
// on them); each is declared here once.

#include <cstdint>
#include <string>

namespace nomad::jobs {

enum class FailureReason : uint8_t {
  kExitCode,      // "exit_code": the process exited non-zero or died of a signal not ours
  kTimeout,       // "timeout": it ran past its timeout and was stopped
  kSpawnError,    // "spawn_error": it could not be started
  kLost,          // "lost": the leader stopped hearing from its node
  kDisconnected,  // "disconnected": its node stopped it, cut off from every leader
  kKilled,        // "killed": reports only: its node killed it unasked; the job records "lost"
  kDrained,       // "drained": its node was drained and the deadline passed; run again elsewhere
  kOom,           // "oom": the kernel killed it at its memory limit (--memory); like exit_code
};

const char* failure_reason_name(FailureReason reason);
// The inverse of failure_reason_name: false (and *reason untouched) for any other text.
bool failure_reason_from_name(const std::string& name, FailureReason* reason);

// The attempt ended with its node rather than its process (kLost, kDisconnected). Those are
// retried up to the job's lost_retries, the rest up to its retries.
bool is_node_fault(FailureReason reason);

// The attempt was ended by an operator's drain of its node, not by the job: it is run again
// elsewhere, at once, and counts against neither retries nor lost_retries.
bool is_drained(const std::string& reason);

}  // namespace nomad::jobs
