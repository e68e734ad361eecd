// A node whose disk is full (Core::persist_failed): Raft's promises (a vote, an acknowledged
// entry, a leader's own copy) all rest on stable storage (Figure 2: "Updated on stable storage
// before responding to RPCs"), so a node that cannot write must not make any of them. It steps
// down, stays silent and never campaigns until its storage works again, then catches up.

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;

bool from_node(const Message& m, NodeId id) { return m.from == id; }

size_t messages_from(const Cluster& c, NodeId id, size_t since) {
  size_t n = 0;
  for (size_t i = since; i < c.trace().size(); ++i) n += from_node(c.trace()[i], id);
  return n;
}

// A leader that cannot persist its own entries cannot count itself toward a majority, and
// would keep clients waiting: it steps down at once and sends TimeoutNow to the peer holding
// the most of its log, which takes over without waiting for an election timeout.
TEST(StorageFailureTest, LeaderThatCannotPersistStepsDownAndHandsOver) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Term term = c.core(1).term();
  const Index commit = c.core(1).commit_index();

  c.node(1).disk_full = true;
  ASSERT_TRUE(c.core(1).propose("lost with the disk").accepted);
  std::vector<Message> sent = c.process(1);

  EXPECT_TRUE(c.core(1).storage_failed());
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_EQ(c.core(1).leader_id(), kNoNode);
  EXPECT_EQ(c.core(1).commit_index(), commit) << "a leader counted a copy it could not persist";
  // The appends left before the write was tried (they promise nothing); after the failure
  // only the hand-over does.
  std::vector<Message> after_appends;
  for (const Message& m : sent) {
    if (m.type != MessageType::kAppend) after_appends.push_back(m);
  }
  ASSERT_EQ(after_appends.size(), 1u) << "only the hand-over leaves a node that cannot persist";
  EXPECT_EQ(after_appends[0].type, MessageType::kTimeoutNow);
  EXPECT_LT(c.node(1).disk().last_index(), c.core(1).log().last_index());

  c.stabilize();
  NodeId leader = c.leader();
  ASSERT_NE(leader, kNoNode) << "no peer took over after TimeoutNow";
  EXPECT_NE(leader, 1u);
  EXPECT_GT(c.core(leader).term(), term);
  EXPECT_TRUE(c.core(leader).propose("after the hand-over").accepted);
  c.stabilize();
  EXPECT_EQ(c.core(leader).commit_index(), c.core(leader).log().last_index())
      << "the two healthy nodes commit on their own";
}

// A node that could not persist must not campaign: a vote for itself that is not on disk
// could be cast again, for another node, after a restart (§5.2: one vote per term).
TEST(StorageFailureTest, NodeThatCannotPersistNeverCampaigns) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.node(1).disk_full = true;
  ASSERT_TRUE(c.core(1).propose("x").accepted);
  c.process(1);
  ASSERT_TRUE(c.core(1).storage_failed());
  c.drop_all();
  c.isolate(1);  // no leader will ever be heard from

  const Term term = c.core(1).term();
  const int et = c.core(1).config().election_ticks;
  size_t sent = 0;
  for (int i = 0; i < 10 * et; ++i) {
    c.core(1).tick();
    sent += c.process(1).size();
  }
  EXPECT_EQ(sent, 0u) << "node 1 sent messages while it could not persist";
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_EQ(c.core(1).term(), term);
  EXPECT_FALSE(c.core(1).propose("refused").accepted);
}

// Figure 2, AppendEntries: a follower answers success only for entries it holds on stable
// storage. One that cannot write them says nothing, and ignores what it is sent meanwhile;
// the other two commit without it.
TEST(StorageFailureTest, FollowerThatCannotPersistDoesNotAcknowledge) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Index held = c.node(3).disk().last_index();
  const size_t before = c.trace().size();

  c.node(3).disk_full = true;
  ASSERT_TRUE(c.core(1).propose(test::commands(3)).accepted);
  c.stabilize();
  EXPECT_TRUE(c.core(3).storage_failed());
  EXPECT_EQ(messages_from(c, 3, before), 0u) << "node 3 answered without persisting";
  EXPECT_EQ(c.node(3).disk().last_index(), held);
  EXPECT_EQ(c.core(1).progress().at(3).match, held);
  EXPECT_EQ(c.core(1).commit_index(), c.core(1).log().last_index());

  std::string why;
  EXPECT_FALSE(c.deliver(test::message(MessageType::kHeartbeat, 1, 3, c.core(1).term()), &why));
  EXPECT_EQ(why, "this node cannot write to its disk");
  c.tick_all(3 * c.core(1).config().election_ticks);
  EXPECT_EQ(messages_from(c, 3, before), 0u);
  EXPECT_EQ(c.core(3).role(), Role::kFollower);
}

// A vote granted in memory whose write failed was never sent, and it is written (with the
// term) before anything else once the disk works again: the node never votes twice in a term.
TEST(StorageFailureTest, UnpersistedVoteIsNeverSentAndIsWrittenFirstAfterRecovery) {
  Cluster c;
  c.node(3).disk_full = true;
  const Term term = c.core(3).term() + 1;
  ASSERT_TRUE(c.deliver(test::vote_request(2, 3, term, 0, 0)));
  EXPECT_EQ(c.core(3).vote(), 2u);
  EXPECT_TRUE(c.process(3).empty()) << "a vote left before it was on disk";
  EXPECT_TRUE(c.core(3).storage_failed());
  EXPECT_EQ(c.node(3).disk().hard_state.vote, kNoNode);

  // Another candidate of the same term is ignored, not granted.
  EXPECT_FALSE(c.deliver(test::vote_request(1, 3, term, 0, 0)));

  c.node(3).disk_full = false;
  c.core(3).storage_recovered();
  ASSERT_TRUE(c.core(3).has_ready());
  Ready rd = c.node(3).cycle();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_TRUE(rd.must_sync);
  EXPECT_EQ(c.node(3).disk().hard_state.term, term);
  EXPECT_EQ(c.node(3).disk().hard_state.vote, 2u);
}

// Once its disk works again the node writes what it held, hears from the new leader and
// catches up, as a follower; every state machine agrees.
TEST(StorageFailureTest, RecoveredNodeRejoinsAsFollowerAndCatchesUp) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.node(1).disk_full = true;
  ASSERT_TRUE(c.core(1).propose("unpersisted").accepted);
  c.process(1);
  c.stabilize();
  const NodeId leader = c.leader();
  ASSERT_NE(leader, kNoNode);
  ASSERT_NE(leader, 1u);
  ASSERT_TRUE(c.core(leader).propose(test::commands(5, "later")).accepted);
  c.stabilize();

  c.node(1).disk_full = false;
  c.core(1).storage_recovered();
  EXPECT_FALSE(c.core(1).storage_failed());
  c.process(1);
  EXPECT_EQ(c.node(1).disk().last_index(), c.core(1).log().last_index())
      << "what it held in memory was not written after recovery";
  const int ht = c.core(leader).config().heartbeat_ticks;
  for (int i = 0; i < 4 * ht && c.core(1).commit_index() < c.core(leader).commit_index(); ++i) {
    c.tick_all(1);
  }
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_EQ(c.core(1).leader_id(), leader);
  EXPECT_EQ(c.node(1).disk().last_index(), c.core(leader).log().last_index());
  EXPECT_EQ(c.node(1).state(), c.node(leader).state());
  c.expect_state_machine_safety();
}

// If the write still fails after storage_recovered(), the node is back where it was: silent,
// and the entries are handed out once more next time.
TEST(StorageFailureTest, FailedRetryKeepsTheNodeOut) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.node(3).disk_full = true;
  ASSERT_TRUE(c.core(1).propose("x").accepted);
  c.stabilize();
  ASSERT_TRUE(c.core(3).storage_failed());
  const Index held = c.node(3).disk().last_index();

  c.core(3).storage_recovered();
  ASSERT_TRUE(c.core(3).has_ready()) << "nothing to retry after recovery";
  EXPECT_TRUE(c.process(3).empty());
  EXPECT_TRUE(c.core(3).storage_failed());
  EXPECT_EQ(c.node(3).disk().last_index(), held);

  c.node(3).disk_full = false;
  c.core(3).storage_recovered();
  c.process(3);
  EXPECT_EQ(c.node(3).disk().last_index(), c.core(3).log().last_index());
  EXPECT_GT(c.node(3).disk().last_index(), held);
}

}  // namespace
}  // namespace nomad::raft
