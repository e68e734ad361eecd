// Check-quorum (§6.2 of Ongaro's thesis): a leader that cannot reach a majority stops acting
// as leader, so clients stuck with it learn to look elsewhere.

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;

// Thesis §6.2: "a leader steps down if an election timeout elapses without a successful round
// of heartbeats to a majority of its cluster". Having stepped down it refuses writes.
TEST(CheckQuorumTest, LeaderCutOffFromMajorityStepsDownAndRefusesProposals) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  EXPECT_TRUE(c.core(1).propose("before").accepted);
  c.stabilize();
  const int et = c.core(1).config().election_ticks;

  c.isolate(1);
  // Not before it has gone a whole election timeout without hearing from anyone...
  for (int i = 0; i < et - 1; ++i) c.tick(1);
  EXPECT_EQ(c.core(1).role(), Role::kLeader) << "stepped down before an election timeout";
  // ...and certainly once two check windows have passed with no answer.
  int ticks = c.tick_until(
      1, [&] { return c.core(1).role() != Role::kLeader; }, et + 2);
  ASSERT_GT(ticks, 0) << "isolated leader still leads after " << 2 * et + 1 << " ticks";
  c.process(1);
  EXPECT_EQ(c.core(1).role(), Role::kFollower);

  const Index last = c.core(1).log().last_index();
  ProposeResult r = c.core(1).propose("after");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(c.core(1).log().last_index(), last) << "a refused proposal reached the log";
}

// The other half of the rule: a leader that does hear from a majority keeps leading, even with
// a minority cut off and however long it runs.
TEST(CheckQuorumTest, LeaderHearingFromMajorityKeepsLeadership) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Term t = c.core(1).term();
  const int et = c.core(1).config().election_ticks;

  c.tick_all(10 * et);
  EXPECT_EQ(c.leader(), 1u);
  EXPECT_EQ(c.core(1).term(), t);

  c.isolate(3);
  c.tick_all(10 * et);
  EXPECT_EQ(c.core(1).role(), Role::kLeader);
  EXPECT_EQ(c.core(1).term(), t);
  EXPECT_TRUE(c.core(1).propose("still leading").accepted);
}

}  // namespace
}  // namespace nomad::raft
