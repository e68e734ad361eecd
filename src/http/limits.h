#pragma once

// The HTTP server's limits in one place: what one client may cost the server. README's
// "Limits" table lists them.

#include <chrono>
#include <cstddef>

namespace nomad::http {

using namespace std::chrono_literals;

inline constexpr size_t kMaxBodyBytes = 1 << 20;  // a request body beyond this gets 413

inline constexpr size_t kMaxHeaderFields = 100;       // beyond: 431
inline constexpr size_t kMaxHeaderBytes = 16 * 1024;  // the header fields together; beyond: 431
inline constexpr size_t kMaxTargetBytes = 8 * 1024;   // the request target; beyond: 414

// Open connections: the open-file limit (raised to its hard limit at start) less what Raft,
// the WAL and jobs need; connections beyond are accepted and closed at once.
inline constexpr size_t kReservedFileDescriptors = 1024;
inline constexpr size_t kMaxConnections = 100000;

// Event streams cost no thread, only memory and a connection; each is capped.
inline constexpr size_t kMaxEventStreams = 2000;
inline constexpr size_t kMaxEventStreamsPerAddress = 100;
// Followed output keeps a thread reading it while it lasts.
inline constexpr size_t kMaxLogStreams = 64;
// Threads for the handlers that wait (writes, output): never the connections' I/O threads.
inline constexpr size_t kMaxWorkerThreads = kMaxLogStreams + 64;

// How long a submission or cancel may take, forwarding to the leader included.
inline constexpr std::chrono::milliseconds kWriteDeadline = 8s;
// One forwarded call to the leader.
inline constexpr std::chrono::milliseconds kForwardTimeout = 2s;

// The connection layer's limits, as values so that tests can shorten the timeouts.
struct WireLimits {
  size_t max_header_fields = kMaxHeaderFields;
  size_t max_header_bytes = kMaxHeaderBytes;
  size_t max_target_bytes = kMaxTargetBytes;
  size_t max_body_bytes = kMaxBodyBytes;
  // A request's header must be complete this long after the connection opened, or after the
  // first byte of a later request (slow headers: the connection closes, with 408 when the
  // request had begun).
  std::chrono::milliseconds header_timeout = 10s;
  // A kept-alive connection with no request begun closes after this.
  std::chrono::milliseconds idle_timeout = 120s;
  // Writing one answer (or one chunk of a stream) to a client that does not read.
  std::chrono::milliseconds write_timeout = 30s;
  size_t max_connections = kMaxConnections;  // lowered to fit the open-file limit at start
};

}  // namespace nomad::http
