#pragma once

// Keeps a flood of the same log message (a client retrying with a bad certificate, every
// connection failing its handshake) from filling the log: each source of messages may log
// `burst` lines per `window`; the rest are counted, and the count goes with the source's
// first line of a later window.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace nomad::common {

class LogRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  LogRateLimiter(size_t burst, Clock::duration window) : burst_(burst), window_(window) {}

  struct Verdict {
    bool log = false;         // let this line through
    uint64_t suppressed = 0;  // lines of this source dropped since its last one let through
  };
  // Thread-safe.
  Verdict admit(std::string_view source, Clock::time_point now);

 private:
  struct Source {
    Clock::time_point window_start{};
    size_t logged_in_window = 0;
    uint64_t suppressed = 0;
  };

  const size_t burst_;
  const Clock::duration window_;
  std::mutex mu_;
  std::map<std::string, Source, std::less<>> sources_;
};

}  // namespace nomad::common
