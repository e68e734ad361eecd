#include "common/log_rate_limit.h"

#include <gtest/gtest.h>

namespace nomad::common {
namespace {

using namespace std::chrono_literals;

TEST(LogRateLimiter, LetsABurstThroughPerWindowAndCountsTheRest) {
  LogRateLimiter limiter(3, 10s);
  auto t0 = LogRateLimiter::Clock::time_point{} + 100s;
  for (int i = 0; i < 3; ++i) {
    auto v = limiter.admit("a.cc:1", t0 + std::chrono::seconds(i));
    EXPECT_TRUE(v.log) << i;
    EXPECT_EQ(v.suppressed, 0u);
  }
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.admit("a.cc:1", t0 + 5s).log);
  // Another source has a budget of its own.
  EXPECT_TRUE(limiter.admit("b.cc:2", t0 + 5s).log);
  // The next window: the first line through carries the count of those dropped.
  auto v = limiter.admit("a.cc:1", t0 + 10s);
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.suppressed, 5u);
  v = limiter.admit("a.cc:1", t0 + 11s);
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.suppressed, 0u);
}

TEST(LogRateLimiter, AQuietSourceIsNeverHeldBack) {
  LogRateLimiter limiter(1, 1s);
  auto t = LogRateLimiter::Clock::time_point{} + 50s;
  for (int i = 0; i < 20; ++i, t += 2s) EXPECT_TRUE(limiter.admit("x", t).log) << i;
}

}  // namespace
}  // namespace nomad::common
