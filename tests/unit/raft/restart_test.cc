// Restart from stable storage (Figure 2, "Persistent state on all servers: currentTerm,
// votedFor, log[] ... updated on stable storage before responding to RPCs").

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;
using test::of_type;
using test::vote_request;

std::optional<Message> vote_reply(Cluster& c, const Message& m) {
  c.deliver(m);
  auto replies = of_type(c.process(m.to), MessageType::kVoteResponse, m.from);
  if (replies.empty()) return std::nullopt;
  return replies.front();
}

// The vote is what makes "one vote per term" survive a crash: a node that voted, crashed and
// restarted in the same term must not vote for someone else.
TEST(RestartTest, RestartedNodeKeepsTermAndVoteAndCannotVoteTwice) {
  ClusterOptions o;
  o.tweak = [](Config& cfg) { cfg.check_quorum = false; };
  Cluster c(o);
  auto r = vote_reply(c, vote_request(2, 1, 5, 0, 0));
  ASSERT_TRUE(r);
  ASSERT_FALSE(r->reject);

  c.node(1).restart();
  EXPECT_EQ(c.core(1).term(), 5u);
  EXPECT_EQ(c.core(1).vote(), 2u);
  EXPECT_EQ(c.core(1).role(), Role::kFollower);

  r = vote_reply(c, vote_request(3, 1, 5, 0, 0));
  EXPECT_TRUE(!r || r->reject) << "voted twice in term 5 across a restart";
  r = vote_reply(c, vote_request(2, 1, 5, 0, 0));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->reject) << "refused the candidate it had already voted for";
}

// A restarted follower comes back with its log and commit index, does not re-apply what its
// state machine already has, and keeps replicating.
TEST(RestartTest, RestartedNodeKeepsItsLogAndCommitIndex) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  ASSERT_TRUE(c.core(1).propose(test::commands(3)).accepted);
  c.stabilize();
  c.tick_all(c.core(1).config().heartbeat_ticks);
  const Index last = c.core(1).log().last_index();
  ASSERT_EQ(c.core(2).commit_index(), last);
  const size_t applied_before = c.node(2).applied().size();

  c.node(2).restart();
  EXPECT_EQ(c.core(2).term(), c.core(1).term());
  EXPECT_EQ(c.core(2).log().last_index(), last);
  for (Index i = 1; i <= last; ++i) EXPECT_EQ(c.core(2).log().at(i), c.core(1).log().at(i));
  EXPECT_EQ(c.core(2).commit_index(), last);
  c.process(2);
  EXPECT_EQ(c.node(2).applied().size(), applied_before) << "entries applied again";

  ASSERT_TRUE(c.core(1).propose("after restart").accepted);
  c.stabilize();
  c.tick_all(c.core(1).config().heartbeat_ticks);
  EXPECT_EQ(c.core(2).commit_index(), last + 1);
  ASSERT_EQ(c.node(2).applied().size(), applied_before + 1);
  EXPECT_EQ(c.node(2).applied().back().data, "after restart");
}

}  // namespace
}  // namespace nomad::raft
