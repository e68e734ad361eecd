// The time and id helpers every component shares (common/unix_time.h, common/random_id.h).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/random_id.h"
#include "common/unix_time.h"

namespace nomad::common {
namespace {

int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(UnixTime, IsTheWallClockInMilliseconds) {
  int64_t before = system_ms();
  int64_t now = unix_now_ms();
  int64_t after = system_ms();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
  EXPECT_GT(now, int64_t{1'600'000'000'000}) << "not milliseconds since 1970";
}

TEST(RandomUuid, IsALowercaseVersion4Uuid) {
  const std::regex form("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 1000; ++i) {
    std::string id = random_uuid();
    ASSERT_TRUE(std::regex_match(id, form)) << id;
  }
}

TEST(RandomHex, HasTwoLowercaseDigitsPerByte) {
  const std::regex form("[0-9a-f]*");
  for (size_t bytes : {0u, 1u, 7u, 8u, 9u, 16u, 33u}) {
    std::string hex = random_hex(bytes);
    EXPECT_EQ(hex.size(), 2 * bytes);
    EXPECT_TRUE(std::regex_match(hex, form)) << hex;
  }
}

TEST(RandomHex, UsesEveryDigitInEveryPosition) {
  // A generator that repeated a word or dropped a nibble would leave some (position, digit)
  // never seen; with 2,000 keys each of the 16 digits appears ~125 times per position.
  std::vector<std::set<char>> seen(32);
  for (int i = 0; i < 2000; ++i) {
    std::string hex = random_hex(16);
    for (size_t p = 0; p < hex.size(); ++p) seen[p].insert(hex[p]);
  }
  for (size_t p = 0; p < seen.size(); ++p) EXPECT_EQ(seen[p].size(), 16u) << "position " << p;
}

TEST(RandomIds, ThreadsNeverRepeatEachOther) {
  // Each thread has its own generator: ids of threads started together must still differ.
  constexpr int kThreads = 8, kEach = 2000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kEach; ++i) {
        made[t].push_back(i % 2 ? random_uuid() : random_hex(16));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& ids : made) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), size_t{kThreads} * kEach);
}

TEST(RandomDelay, StaysWithinItsBoundAndSpreadsOverIt) {
  const auto bound = std::chrono::milliseconds(1000);
  std::set<int64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto d = random_delay(bound);
    ASSERT_GE(d.count(), 0);
    ASSERT_LE(d.count(), bound.count());
    seen.insert(std::min<int64_t>(d.count() / 100, 9));
  }
  EXPECT_EQ(seen.size(), 10u) << "every tenth of the bound is drawn";
  EXPECT_EQ(random_delay(std::chrono::milliseconds(0)).count(), 0);
}

}  // namespace
}  // namespace nomad::common
