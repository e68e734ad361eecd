#pragma once

// Waiting in tests without sleeping as synchronisation: poll a condition until it holds or a
// deadline passes. For state no callback announces (processes of the host, files, a server
// reached over the network); where a callback or condition variable exists, wait on it.

#include <chrono>
#include <thread>

namespace nomad::testing {

// Polls `condition` every `interval` until it holds or `timeout` passes; true if it held (it is
// checked once more at the deadline, so a condition that holds by then is never missed).
template <typename Condition>
bool eventually(Condition&& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds interval = std::chrono::milliseconds(2)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(interval);  // the polling interval, not synchronisation
  }
  return true;
}

}  // namespace nomad::testing
