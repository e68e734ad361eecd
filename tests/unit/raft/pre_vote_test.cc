// Pre-vote and the leader lease (§9.6 of Ongaro's thesis): a node that cannot win an election
// must not raise the cluster's term, and voters that hear from a leader ignore campaigns.

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;
using test::of_type;
using test::vote_request;

bool is_pre_vote_from(const Message& m, NodeId from) {
  return m.type == MessageType::kPreVote && m.from == from;
}

// Thesis §9.6: "a candidate would first ask other servers whether its log was up-to-date
// enough to get their vote. Only if the candidate believed it could get votes from a majority
// of the cluster would it increment its term and start a normal election."
TEST(PreVoteTest, TermDoesNotIncreaseUntilMajorityGrantsPreVote) {
  Cluster c;  // pre_vote is on by default
  ASSERT_TRUE(c.tick_until_role(1, Role::kPreCandidate));
  c.process(1);
  EXPECT_EQ(c.core(1).term(), 0u);
  EXPECT_EQ(c.node(1).disk().hard_state.term, 0u);
  EXPECT_EQ(c.node(1).disk().hard_state.vote, kNoNode);

  // Nobody answers for several election timeouts: the term stays where it was.
  const int et = c.core(1).config().election_ticks;
  for (int i = 0; i < 6 * et; ++i) {
    c.drop_all();
    c.tick(1);
  }
  EXPECT_EQ(c.core(1).term(), 0u);
  EXPECT_EQ(c.node(1).disk().hard_state.term, 0u);
  EXPECT_NE(c.core(1).role(), Role::kCandidate);

  // The next pre-campaign is answered by node 2: 2 of 3 is a majority, the real election
  // starts in term 1 and the vote for itself is on disk before the vote requests leave.
  c.drop_all();
  int ticks = 0;
  std::vector<Message> pre_votes;
  while (pre_votes.empty()) {
    ASSERT_LT(++ticks, 4 * et) << "node 1 stopped pre-campaigning";
    c.drop_all();
    c.tick(1);
    pre_votes = c.take([](const Message& m) { return is_pre_vote_from(m, 1) && m.to == 2; });
  }
  EXPECT_EQ(c.core(1).term(), 0u);
  c.drop_all();
  c.deliver(pre_votes.front());
  c.process(2);
  EXPECT_EQ(c.core(2).term(), 0u) << "a pre-vote changed the voter's term";
  EXPECT_EQ(c.core(2).vote(), kNoNode) << "a pre-vote was recorded as a vote";
  c.deliver_where([](const Message& m) { return m.type == MessageType::kPreVoteResponse; });
  EXPECT_EQ(c.core(1).role(), Role::kCandidate);
  EXPECT_EQ(c.core(1).term(), 1u);
  Ready rd = c.cycle(1);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, 1u);
  EXPECT_EQ(rd.hard_state->vote, 1u);
  EXPECT_EQ(of_type(rd.messages_after_append, MessageType::kVote).size(), 2u);
}

// The pre-vote is granted by the same up-to-date rule as the vote (§5.4.1), and granting it
// changes neither the voter's term nor its vote.
TEST(PreVoteTest, PreVoteIsGrantedOnlyToUpToDateLogAndChangesNothing) {
  ClusterOptions o;
  o.restored[2] = test::restored(2, {1, 2});
  Cluster c(o);

  c.deliver(vote_request(1, 2, 3, 1, 1, /*pre_vote=*/true));
  auto r = of_type(c.process(2), MessageType::kPreVoteResponse, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].reject);

  c.deliver(vote_request(3, 2, 3, 2, 2, /*pre_vote=*/true));
  r = of_type(c.process(2), MessageType::kPreVoteResponse, 3);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].reject);

  EXPECT_EQ(c.core(2).term(), 2u);
  EXPECT_EQ(c.core(2).vote(), kNoNode);
  EXPECT_EQ(c.node(2).disk().hard_state, (HardState{2, kNoNode, 0}));
}

// Thesis §9.6: without pre-vote, a server that was partitioned keeps timing out, increments
// its term, and on rejoining forces the healthy leader to step down. With pre-vote it cannot
// collect pre-votes while cut off, so its term never moves and the leader keeps its term.
TEST(PreVoteTest, PartitionedNodeRejoiningDoesNotDisruptTheLeader) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Term t = c.core(1).term();
  const int et = c.core(1).config().election_ticks;

  c.isolate(3);
  c.tick_all(10 * et);
  EXPECT_EQ(c.core(3).term(), t) << "the partitioned node raised its term";
  EXPECT_NE(c.core(3).role(), Role::kLeader);
  EXPECT_EQ(c.core(1).role(), Role::kLeader);

  c.heal();
  c.tick_all(3 * et);
  EXPECT_EQ(c.core(1).role(), Role::kLeader);
  EXPECT_EQ(c.core(1).term(), t);
  EXPECT_EQ(c.core(3).role(), Role::kFollower);
  EXPECT_EQ(c.core(3).term(), t);
  EXPECT_EQ(c.core(3).leader_id(), 1u);
}

// Thesis §4.2.3 / §9.6: "if a server receives a RequestVote request within the minimum
// election timeout of hearing from a current leader, it does not update its term or grant its
// vote". This keeps a node with a merely better log from deposing a working leader.
TEST(PreVoteTest, VoterInLeaderLeaseIgnoresVoteAndPreVoteRequests) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Term t = c.core(1).term();
  const Index last = c.core(1).log().last_index();

  for (bool pre_vote : {true, false}) {
    c.deliver(vote_request(3, 2, t + 1, last + 10, t, pre_vote));
    auto out = c.process(2);
    auto type = pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
    for (const Message& r : of_type(out, type, 3)) {
      EXPECT_TRUE(r.reject) << "node 2 granted a " << (pre_vote ? "pre-vote" : "vote")
                            << " while hearing from leader 1";
    }
    EXPECT_EQ(c.core(2).term(), t);
    EXPECT_NE(c.core(2).vote(), 3u);
    EXPECT_EQ(c.core(2).leader_id(), 1u);
    c.drop_all();
  }
}

}  // namespace
}  // namespace nomad::raft
