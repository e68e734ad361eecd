// Cluster sizes: "a majority of the servers in the full cluster" (§5.2) for any number of
// voters, including the degenerate single-node and even-sized clusters.

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;

ClusterOptions sized(size_t nodes) {
  ClusterOptions o;
  o.nodes = nodes;
  return o;
}

TEST(MajorityTest, QuorumIsHalfTheVotersPlusOne) {
  const std::pair<size_t, size_t> expected[] = {{1, 1}, {2, 2}, {3, 2}, {4, 3},
                                                {5, 3}, {6, 4}, {7, 4}};
  for (auto [nodes, quorum] : expected) {
    Cluster c(sized(nodes));
    EXPECT_EQ(c.core(1).quorum(), quorum) << nodes << " voters";
  }
}

// A single voter is its own majority: it elects itself without any message and commits alone.
TEST(MajorityTest, SingleNodeClusterElectsItselfAndCommitsAlone) {
  Cluster c(sized(1));
  const int et = c.core(1).config().election_ticks;
  ASSERT_TRUE(c.tick_until_role(1, Role::kLeader, 2 * et));
  c.process(1);
  EXPECT_EQ(c.core(1).term(), 1u);

  ProposeResult r = c.core(1).propose("alone");
  ASSERT_TRUE(r.accepted);
  c.process(1);
  EXPECT_EQ(c.core(1).commit_index(), r.last_index);
  ASSERT_FALSE(c.node(1).applied().empty());
  EXPECT_EQ(c.node(1).applied().back().data, "alone");
  EXPECT_TRUE(c.pending().empty());
}

// For 2, 3, 4, 5 and 7 voters: an entry held by quorum()-1 servers (leader included) is not
// committed; one more server makes it committed. A 4-node cluster needs 3, a 2-node one both.
TEST(MajorityTest, EntryCommitsExactlyWhenQuorumHoldsIt) {
  for (size_t n : {2, 3, 4, 5, 7}) {
    SCOPED_TRACE(std::to_string(n) + " voters");
    Cluster c(sized(n));
    ASSERT_TRUE(c.elect(1));
    c.stabilize();
    const size_t q = c.core(1).quorum();

    // Followers 2..q-1 stay reachable: with the leader, q-1 servers.
    for (NodeId id = q; id <= n; ++id) c.cut(1, id);
    ProposeResult r = c.core(1).propose("x");
    ASSERT_TRUE(r.accepted);
    c.stabilize();
    EXPECT_LT(c.core(1).commit_index(), r.last_index) << "committed on " << q - 1 << " servers";

    // Follower q comes back: q servers.
    c.heal();
    for (NodeId id = q + 1; id <= n; ++id) c.cut(1, id);
    const int hb = c.core(1).config().heartbeat_ticks;
    for (int i = 0; i < 10 * hb && c.core(1).commit_index() < r.last_index; ++i) {
      c.tick(1);
      c.stabilize();
    }
    EXPECT_EQ(c.core(1).commit_index(), r.last_index) << "not committed on " << q << " servers";
    EXPECT_EQ(c.core(1).role(), Role::kLeader);
  }
}

}  // namespace
}  // namespace nomad::raft
