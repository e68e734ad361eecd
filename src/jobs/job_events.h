#pragma once

// A job's state changes as applying the log makes them, for the log lines that report each
// one (node::Node logs them: README, Log formats). The job store records them only while a
// sink is set (JobStore::record_events), so a node that does not log them pays nothing.

#include <cstdint>
#include <optional>
#include <string>

namespace nomad::jobs {

struct JobEvent {
  enum class Kind : uint8_t {
    kSubmitted,  // created, pending
    kPlaced,     // attempt `attempt` assigned to node `node`
    kStarted,    // its process runs
    kCompleted,  // exited 0
    kFailed,     // for good: `reason`, exit code or signal
    kRetried,    // the attempt failed (`reason`); the job waits for its next one
    kLost,       // the attempt ended with its node (`reason`: lost, disconnected); `retry` says
                 // whether the job runs again
    kCancelled,
  };
  Kind kind = Kind::kSubmitted;
  std::string job_id{};
  uint32_t attempt = 0;
  uint64_t node = 0;  // the node the attempt runs on; 0: none
  std::optional<int32_t> exit_code{};
  int32_t signal = 0;
  std::string reason{};
  bool retry = false;
};

// "submitted", "placed", ...: the event's name in log lines.
const char* job_event_name(JobEvent::Kind kind);

}  // namespace nomad::jobs
