#pragma once

// Simulated time. Everything in the simulation is measured on one virtual clock that only the
// event loop advances, so a run depends on nothing but its seed.

#include <cstdint>
#include <cstdio>
#include <string>

namespace nomad::sim {

using Time = uint64_t;  // microseconds since the start of the run

inline constexpr Time kMicrosecond = 1;
inline constexpr Time kMillisecond = 1000;
inline constexpr Time kSecond = 1000 * kMillisecond;

// One Raft tick is 10 ms, as in a server.
inline constexpr Time kTick = 10 * kMillisecond;

// "12.345678s": fixed width after the point so traces line up and sort as text.
inline std::string format_time(Time t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%06llus", static_cast<unsigned long long>(t / kSecond),
                static_cast<unsigned long long>(t % kSecond));
  return buf;
}

}  // namespace nomad::sim
