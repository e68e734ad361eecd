#pragma once

// The HTTP server's limits in one place: what one client may cost the server.

#include <chrono>
#include <cstddef>

namespace nomad::http {

using namespace std::chrono_literals;

inline constexpr size_t kMaxBodyBytes = 1 << 20;  // a request body beyond this gets 413

// Every open event stream and followed output holds a thread for as long as it lasts; the
// pool is larger than both caps together, so plain requests always find a thread.
inline constexpr size_t kMaxEventStreams = 256;
inline constexpr size_t kMaxLogStreams = 64;
inline constexpr size_t kMaxThreads = kMaxEventStreams + kMaxLogStreams + 64;

// How long a submission or cancel may take, forwarding to the leader included.
inline constexpr std::chrono::milliseconds kWriteDeadline = 8s;
// One forwarded call to the leader.
inline constexpr std::chrono::milliseconds kForwardTimeout = 2s;

}  // namespace nomad::http
