// The pieces bench submit and bench jobs share.

#include "cli/bench_common.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace nomad::cli::bench
