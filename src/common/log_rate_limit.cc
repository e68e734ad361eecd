#include "common/log_rate_limit.h"

namespace nomad::common {

LogRateLimiter::Verdict LogRateLimiter::admit(std::string_view source, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = sources_.find(source);
  if (it == sources_.end()) it = sources_.emplace(std::string(source), Source{now, 0, 0}).first;
  Source& s = it->second;
  if (now - s.window_start >= window_) {
    s.window_start = now;
    s.logged_in_window = 0;
  }
  Verdict verdict;
  if (s.logged_in_window < burst_) {
    ++s.logged_in_window;
    verdict.log = true;
    verdict.suppressed = s.suppressed;
    s.suppressed = 0;
  } else {
    ++s.suppressed;
  }
  return verdict;
}

}  // namespace nomad::common
