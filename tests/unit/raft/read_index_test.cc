// Linearizable reads through ReadIndex (§6.4 of Ongaro's thesis): the leader answers with its
// commit index only after a heartbeat round shows a majority still follows it, and only once
// it committed an entry of its own term; a follower asks the leader for the index.

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;

bool is_heartbeat_response(const Message& m) { return m.type == MessageType::kHeartbeatResponse; }

// Thesis §6.4 step 3: "the leader sends a new round of heartbeats to the entire cluster and
// waits for their acknowledgments"; only then is its commit index a safe read index.
TEST(ReadIndexTest, LeaderAnswersOnlyAfterAMajorityAnsweredAHeartbeatRound) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  ASSERT_TRUE(c.core(1).propose(test::commands(3)).accepted);
  c.stabilize();
  const Index commit = c.core(1).commit_index();

  c.core(1).read_index(7);
  c.process(1);
  EXPECT_TRUE(c.node(1).read_states().empty()) << "answered before any heartbeat came back";
  size_t heartbeats = 0;
  for (const Message& m : c.pending()) heartbeats += m.type == MessageType::kHeartbeat;
  EXPECT_EQ(heartbeats, 2u) << "one heartbeat per follower starts the round";

  c.stabilize();
  ASSERT_EQ(c.node(1).read_states().size(), 1u);
  EXPECT_EQ(c.node(1).read_states()[0], (ReadState{7, commit, true}));
}

// A leader cut off from the majority (it does not yet know it is deposed) must not answer:
// the majority may already have elected a leader that committed newer writes.
TEST(ReadIndexTest, CutOffLeaderNeverAnswersAndFailsTheReadWhenItStepsDown) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.isolate(1);
  c.core(1).read_index(1);
  c.stabilize();
  EXPECT_TRUE(c.node(1).read_states().empty());
  // Check-quorum deposes it within two election timeouts; the read then fails.
  const int et = c.core(1).config().election_ticks;
  for (int i = 0; i < 2 * et && c.core(1).role() == Role::kLeader; ++i) c.tick(1);
  ASSERT_NE(c.core(1).role(), Role::kLeader);
  c.process(1);
  ASSERT_EQ(c.node(1).read_states().size(), 1u);
  EXPECT_FALSE(c.node(1).read_states()[0].ok);
}

// One answer from a majority suffices: with one follower cut off, the other answers.
TEST(ReadIndexTest, MajorityOfAnswersIsEnough) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.isolate(3);
  c.core(1).read_index(5);
  c.stabilize();
  ASSERT_EQ(c.node(1).read_states().size(), 1u);
  EXPECT_TRUE(c.node(1).read_states()[0].ok);
}

// §6.4 step 1: a new leader's commit index may lag what earlier leaders committed until it
// commits an entry of its own term (its no-op): reads wait for that.
TEST(ReadIndexTest, NewLeaderWaitsForAnEntryOfItsTermToCommit) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));  // the no-op is appended, its appends still pending
  ASSERT_NE(c.core(1).log().term_at(c.core(1).commit_index()), c.core(1).term());
  c.core(1).read_index(3);
  c.process(1);
  EXPECT_TRUE(c.node(1).read_states().empty());
  c.stabilize();
  ASSERT_EQ(c.node(1).read_states().size(), 1u);
  const ReadState& r = c.node(1).read_states()[0];
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(c.core(1).log().term_at(r.index), c.core(1).term()) << "index before the no-op";
}

// A follower gets the index from the leader, which confirmed it with a round of its own; the
// follower serves the read once it applied that far.
TEST(ReadIndexTest, FollowerGetsTheLeadersConfirmedCommitIndex) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  ASSERT_TRUE(c.core(1).propose(test::commands(4)).accepted);
  c.stabilize();
  c.core(2).read_index(11);
  c.process(2);
  ASSERT_EQ(c.pending().size(), 1u);
  EXPECT_EQ(c.pending().front().type, MessageType::kReadIndex);
  EXPECT_EQ(c.pending().front().to, 1u);
  c.stabilize();
  ASSERT_EQ(c.node(2).read_states().size(), 1u);
  EXPECT_EQ(c.node(2).read_states()[0], (ReadState{11, c.core(1).commit_index(), true}));
  EXPECT_TRUE(c.node(1).read_states().empty()) << "the leader's application asked nothing";
}

TEST(ReadIndexTest, FollowerWithoutLeaderFailsAtOnce) {
  Cluster c;
  c.core(2).read_index(4);
  c.process(2);
  ASSERT_EQ(c.node(2).read_states().size(), 1u);
  EXPECT_FALSE(c.node(2).read_states()[0].ok);
  EXPECT_TRUE(c.pending().empty());
}

// A follower's pending read fails when its leader changes (the answer of the old one might
// never come), so the application can ask again at once.
TEST(ReadIndexTest, ForwardedReadFailsWhenTheFollowerMovesToANewTerm) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.core(2).read_index(8);
  c.process(2);
  ASSERT_EQ(c.take([](const Message& m) { return m.type == MessageType::kReadIndex; }).size(),
            1u);  // the request is lost
  ASSERT_TRUE(c.core(1).transfer_leadership(3));
  c.stabilize();
  ASSERT_EQ(c.core(3).role(), Role::kLeader);
  ASSERT_EQ(c.node(2).read_states().size(), 1u);
  EXPECT_FALSE(c.node(2).read_states()[0].ok);
}

// Reads arriving while a round is in flight share the next round: a burst costs two rounds.
TEST(ReadIndexTest, ReadsDuringARoundShareTheNextOne) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.core(1).read_index(1);
  c.process(1);
  for (uint64_t id = 2; id <= 10; ++id) c.core(1).read_index(id);
  c.process(1);
  size_t heartbeats = 0;
  for (const Message& m : c.pending()) heartbeats += m.type == MessageType::kHeartbeat;
  EXPECT_EQ(heartbeats, 2u) << "a round per read";
  c.stabilize();
  EXPECT_EQ(c.node(1).read_states().size(), 10u);
  for (const ReadState& r : c.node(1).read_states()) EXPECT_TRUE(r.ok);
}

// A lost heartbeat answer does not strand a read: the next regular heartbeat carries the
// same round.
TEST(ReadIndexTest, RegularHeartbeatsRetryALostRound) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.core(1).read_index(2);
  c.process_all();
  c.deliver_where([](const Message& m) { return m.type == MessageType::kHeartbeat; });
  c.process_all();
  ASSERT_GT(c.take(is_heartbeat_response).size(), 0u);
  c.stabilize();
  EXPECT_TRUE(c.node(1).read_states().empty());
  const int hb = c.core(1).config().heartbeat_ticks;
  for (int i = 0; i < hb; ++i) c.tick(1);
  c.stabilize();
  ASSERT_EQ(c.node(1).read_states().size(), 1u);
  EXPECT_TRUE(c.node(1).read_states()[0].ok);
}

TEST(ReadIndexTest, SingleNodeAnswersAtOnce) {
  ClusterOptions options;
  options.nodes = 1;
  Cluster c(options);
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.core(1).read_index(1);
  c.process(1);
  ASSERT_EQ(c.node(1).read_states().size(), 1u);
  EXPECT_EQ(c.node(1).read_states()[0], (ReadState{1, c.core(1).commit_index(), true}));
}

// The planted bug answers without the round: a cut-off leader answers at once.
TEST(ReadIndexTest, PlantedBugAnswersWithoutTheRound) {
  ClusterOptions options;
  options.tweak = [](Config& config) { config.bugs.read_index_without_heartbeat = true; };
  Cluster c(options);
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.isolate(1);
  c.core(1).read_index(1);
  c.process(1);
  EXPECT_EQ(c.node(1).read_states().size(), 1u);
}

}  // namespace
}  // namespace nomad::raft
