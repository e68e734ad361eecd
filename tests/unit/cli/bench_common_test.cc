// The pieces bench submit and bench jobs share.

#include "cli/bench_common.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace nomad::cli::bench {
namespace {

TEST(BenchCommon, PercentilesAreByNearestRankInMilliseconds) {
  std::vector<uint32_t> us;
  for (uint32_t i = 1; i <= 1000; ++i) us.push_back(i * 1000);  // 1 ms .. 1000 ms
  EXPECT_EQ(percentile_ms(us, 0.50), 500.0);
  EXPECT_EQ(percentile_ms(us, 0.99), 990.0);
  EXPECT_EQ(percentile_ms(us, 0.999), 999.0);
  EXPECT_EQ(percentile_ms({1234}, 0.5), 1.234);
  EXPECT_EQ(percentile_ms({}, 0.5), 0.0);
}

TEST(BenchCommon, NextAddressWrapsAndStartsOverFromAnUnknownOne) {
  std::vector<std::string> a{"x:1", "y:2", "z:3"};
  EXPECT_EQ(next_address(a, "x:1"), "y:2");
  EXPECT_EQ(next_address(a, "z:3"), "x:1");
  EXPECT_EQ(next_address(a, "elsewhere:9"), "x:1");
}

TEST(BenchCommon, BackoffDoublesFrom20MsUpTo200Ms) {
  EXPECT_EQ(retry_backoff(1).count(), 20);
  EXPECT_EQ(retry_backoff(2).count(), 40);
  EXPECT_EQ(retry_backoff(4).count(), 160);
  EXPECT_EQ(retry_backoff(5).count(), 200);
  EXPECT_EQ(retry_backoff(50).count(), 200);
}

TEST(BenchCommon, ChannelsAreOnePer64ClientsUnlessGiven) {
  EXPECT_EQ(channels_per_address(0, 1), 1);
  EXPECT_EQ(channels_per_address(0, 128), 2);
  EXPECT_EQ(channels_per_address(0, 10000), 4);
  EXPECT_EQ(channels_per_address(7, 1), 7);
}

TEST(BenchCommon, StubPoolMakesStubsOncePerAddressAndHandsThemOutInTurn) {
  int made = 0;
  StubPool<std::string> pool(2, [&made](const std::string& address, int channel) {
    ++made;
    return std::make_unique<std::string>(address + "#" + std::to_string(channel));
  });
  EXPECT_EQ(*pool.get("a"), "a#0");
  EXPECT_EQ(*pool.get("a"), "a#1");
  EXPECT_EQ(*pool.get("a"), "a#0");
  EXPECT_EQ(made, 2);
  pool.get("b");
  EXPECT_EQ(made, 4);
}

// Units started by a ClosedLoop, ended one by one by a thread of their own.
class Units {
 public:
  void started(uint64_t sequence) {
    std::lock_guard lock(mu_);
    sequences_.push_back(sequence);
    pending_.push_back(sequence);
    most_at_once_ = std::max(most_at_once_, pending_.size());
    cv_.notify_all();
  }
  // Ends `n` units as they start, each after the one before.
  void end(ClosedLoop& loop, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      {
        std::unique_lock lock(mu_);
        ASSERT_TRUE(
            cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !pending_.empty(); }));
        pending_.pop_front();
      }
      loop.ended(ClosedLoop::Clock::now());
    }
  }
  std::vector<uint64_t> sequences() {
    std::lock_guard lock(mu_);
    return sequences_;
  }
  size_t most_at_once() {
    std::lock_guard lock(mu_);
    return most_at_once_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint64_t> sequences_;
  std::deque<uint64_t> pending_;
  size_t most_at_once_ = 0;
};

TEST(BenchCommon, AClosedLoopKeepsClientsUnitsGoingUntilTheCountIsSpent) {
  Units units;
  ClosedLoop loop(10, [&](uint64_t sequence) { units.started(sequence); });
  std::thread ender([&] { units.end(loop, 10); });
  const auto begun = ClosedLoop::Clock::now();
  const auto finished = loop.run(4, begun + std::chrono::hours(1));
  ender.join();
  EXPECT_GE(finished, begun);
  EXPECT_EQ(units.sequences(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(units.most_at_once(), 4u);
}

TEST(BenchCommon, AClosedLoopPastItsTimeStartsNothing) {
  Units units;
  ClosedLoop loop(10, [&](uint64_t sequence) { units.started(sequence); });
  loop.run(4, ClosedLoop::Clock::now() - std::chrono::seconds(1));
  EXPECT_TRUE(units.sequences().empty());
}

TEST(BenchCommon, TargetsMovePastAnAddressThatDidNotAnswerOnce) {
  Targets targets({"x:1", "y:2", "z:3"});
  EXPECT_EQ(targets.current(), "x:1");
  EXPECT_EQ(targets.move_past("x:1"), "y:2");
  // Another call that failed on x:1 follows the move rather than making another.
  EXPECT_EQ(targets.move_past("x:1"), "y:2");
  EXPECT_EQ(targets.current(), "y:2");
  EXPECT_EQ(targets.next("z:3"), "x:1");
}

}  // namespace
}  // namespace nomad::cli::bench
