// An append carries at most Config::max_bytes_per_append of entry data (at least one entry),
// so that every message fits the transport's limit however large the entries are.

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;
using test::restored;

TEST(AppendBytesTest, AFollowerFarBehindGetsTheLogInAppendsOfAtMostTheByteCap) {
  ClusterOptions o;
  RestoredState full = restored(1, std::vector<Term>(12, 1));
  for (auto& e : full.entries) e.data = std::string(1 << 20, 'x');  // 12 entries of 1 MiB
  o.restored[1] = full;
  o.restored[2] = full;
  o.restored[3] = restored(1, {});
  Cluster c(o);
  size_t largest = 0, appends = 0;
  c.before_deliver = [&](const Message& m) {
    if (m.type != MessageType::kAppend || m.entries.empty()) return;
    size_t bytes = 0;
    for (const auto& e : m.entries) bytes += e.data.size();
    largest = std::max(largest, bytes);
    ++appends;
  };
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  EXPECT_EQ(c.core(3).log().last_index(), c.core(1).log().last_index());
  EXPECT_LE(largest, size_t{4} << 20);
  EXPECT_GE(appends, 3u) << "12 MiB of entries need at least three appends of 4 MiB";
}

TEST(AppendBytesTest, AnEntryLargerThanTheCapStillTravelsAlone) {
  ClusterOptions o;
  RestoredState full = restored(1, std::vector<Term>(2, 1));
  full.entries[0].data = std::string(5 << 20, 'x');
  o.restored[1] = full;
  o.restored[2] = full;
  o.restored[3] = restored(1, {});
  Cluster c(o);
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  EXPECT_EQ(c.core(3).log().last_index(), c.core(1).log().last_index());
}

}  // namespace
}  // namespace nomad::raft
