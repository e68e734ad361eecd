// Leadership transfer (§3.10 of Ongaro's thesis): the leader brings the target's log up to
// date, then sends it TimeoutNow so it starts an election at once and wins it.

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;

// Thesis §3.10: "the prior leader sends a TimeoutNow request to the target server. This
// request has the same effect as the target server's election timer firing: the target
// server starts a new election (incrementing its term)". The other voters grant the vote
// although they heard from the old leader recently.
TEST(TransferTest, TransferMakesTargetLeaderInLaterTerm) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Term t = c.core(1).term();

  ASSERT_TRUE(c.core(1).transfer_leadership(2));
  c.stabilize();
  EXPECT_EQ(c.core(2).role(), Role::kLeader);
  EXPECT_GT(c.core(2).term(), t);
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_EQ(c.core(1).leader_id(), 2u);
  EXPECT_EQ(c.core(3).leader_id(), 2u);
  EXPECT_TRUE(c.core(2).propose("new leader").accepted);
}

// Thesis §3.10: "the prior leader ... transfers all of its log entries to the target server"
// before the TimeoutNow, so a lagging target is caught up first and the transfer still ends
// with it as leader, holding every entry.
TEST(TransferTest, LaggingTargetIsCaughtUpBeforeTimeoutNow) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.isolate(2);
  ASSERT_TRUE(c.core(1).propose(test::commands(5)).accepted);
  c.stabilize();
  const Index last = c.core(1).log().last_index();
  ASSERT_EQ(c.core(1).commit_index(), last);
  ASSERT_LT(c.core(2).log().last_index(), last);
  c.heal();

  Index target_last_at_timeout_now = 0;
  int timeout_nows = 0;
  c.before_deliver = [&](const Message& m) {
    if (m.type == MessageType::kTimeoutNow) {
      ++timeout_nows;
      target_last_at_timeout_now = c.core(m.to).log().last_index();
    }
  };
  ASSERT_TRUE(c.core(1).transfer_leadership(2));
  c.stabilize();
  const int et = c.core(1).config().election_ticks;
  for (int i = 0; i < et - 1 && c.core(2).role() != Role::kLeader; ++i) {
    c.tick(1);
    c.stabilize();
  }
  ASSERT_EQ(timeout_nows, 1);
  EXPECT_EQ(target_last_at_timeout_now, last) << "TimeoutNow sent before the target caught up";
  EXPECT_EQ(c.core(2).role(), Role::kLeader);
  EXPECT_GE(c.core(2).log().last_index(), last + 1);  // every entry, plus its own no-op
}

TEST(TransferTest, OnlyLeaderTransfersAndOnlyToAVoter) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  EXPECT_FALSE(c.core(2).transfer_leadership(3)) << "a follower started a transfer";
  EXPECT_FALSE(c.core(1).transfer_leadership(9)) << "transfer to a non-member";
  c.stabilize();
  EXPECT_EQ(c.leader(), 1u);
}

}  // namespace
}  // namespace nomad::raft
