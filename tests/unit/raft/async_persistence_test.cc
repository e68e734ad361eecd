// The Ready contract with asynchronous persistence: which messages may leave before this
// node's write is durable, what the core does when writes complete late, out of step with
// sends, several at once or not at all, and the soft state it reports.

#include <gtest/gtest.h>

#include <stdexcept>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;
using test::of_type;

bool is_append_to(const Message& m, NodeId to) {
  return m.type == MessageType::kAppend && m.to == to;
}

// Thesis §10.2.1: the leader sends its appends while it writes them itself, and counts its
// own copy only once persisted() reports it durable.
TEST(AsyncPersistenceTest, LeaderSendsAppendsAtOnceButCountsItsOwnCopyOnlyOnceDurable) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.node(1).async_writes = true;
  const Index commit = c.core(1).commit_index();

  ASSERT_TRUE(c.core(1).propose("x").accepted);
  Ready rd = c.cycle(1);
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(of_type(rd.messages, MessageType::kAppend).size(), 2u)
      << "the leader's appends waited for its own write";
  EXPECT_EQ(c.node(1).queued_writes(), 1u);
  EXPECT_LT(c.node(1).disk().last_index(), c.core(1).log().last_index());

  // One follower acknowledges: with the leader's own copy not yet durable that is one of
  // three, not a majority.
  c.deliver_where([](const Message& m) { return is_append_to(m, 2); });
  c.process(2);
  c.deliver_where([](const Message& m) { return m.from == 2 && m.to == 1; });
  EXPECT_EQ(c.core(1).commit_index(), commit) << "the leader counted a copy not on its disk";

  c.sync(1);
  EXPECT_EQ(c.core(1).persisted_index(), c.core(1).log().last_index());
  EXPECT_EQ(c.core(1).commit_index(), c.core(1).log().last_index());
}

// Figure 2: "Updated on stable storage before responding to RPCs": the acknowledgement waits
// in messages_after_append until the write is durable.
TEST(AsyncPersistenceTest, FollowerAcknowledgesOnlyAfterItsWriteIsDurable) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.node(2).async_writes = true;
  ASSERT_TRUE(c.core(1).propose("x").accepted);
  c.process(1);
  c.deliver_where([](const Message& m) { return is_append_to(m, 2); });

  Ready rd = c.cycle(2);
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_TRUE(rd.must_sync);
  EXPECT_TRUE(rd.messages.empty()) << "an acknowledgement left before the write";
  EXPECT_TRUE(rd.messages_after_append.empty()) << "the write is still queued";

  std::vector<Message> released = c.sync(2);
  ASSERT_EQ(of_type(released, MessageType::kAppendResponse).size(), 1u);
  EXPECT_FALSE(released.front().reject);
  EXPECT_EQ(released.front().index, c.node(2).disk().last_index());
}

// A candidate's vote for itself and a voter's grant must survive a crash: both wait.
TEST(AsyncPersistenceTest, VoteRequestsAndGrantsWaitForTheWrite) {
  ClusterOptions o;
  o.tweak = [](Config& cfg) { cfg.pre_vote = false; };
  Cluster c(o);
  c.node(1).async_writes = true;
  c.node(2).async_writes = true;
  ASSERT_TRUE(c.tick_until_role(1, Role::kCandidate));
  Ready campaign = c.cycle(1);
  EXPECT_TRUE(of_type(campaign.messages, MessageType::kVote).empty());
  ASSERT_EQ(c.sync(1).size(), 2u) << "the vote requests leave once the vote is durable";

  c.deliver_where([](const Message& m) { return m.to == 2; });
  Ready grant = c.cycle(2);
  EXPECT_TRUE(of_type(grant.messages, MessageType::kVoteResponse).empty());
  std::vector<Message> released = c.sync(2);
  ASSERT_EQ(of_type(released, MessageType::kVoteResponse).size(), 1u);
  EXPECT_EQ(c.node(2).disk().hard_state.vote, 1u);
}

// Pre-votes promise nothing and change nobody's state: they leave at once.
TEST(AsyncPersistenceTest, PreVoteRequestsLeaveAtOnce) {
  Cluster c;
  c.node(1).async_writes = true;
  ASSERT_TRUE(c.tick_until_role(1, Role::kPreCandidate));
  Ready rd = c.cycle(1);
  EXPECT_EQ(of_type(rd.messages, MessageType::kPreVote).size(), 2u);
}

// Several Readys in storage at once, made durable by one group commit reporting only the
// last entry: every one of them counts.
TEST(AsyncPersistenceTest, OneReportCoversAGroupOfWrites) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.node(1).async_writes = true;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.core(1).propose("x" + std::to_string(i)).accepted);
    c.cycle(1);
  }
  EXPECT_EQ(c.node(1).queued_writes(), 3u);
  // One follower acknowledges everything; the leader's own writes are still queued ...
  c.deliver_where([](const Message& m) { return is_append_to(m, 2); });
  c.process(2);
  c.deliver_where([](const Message& m) { return m.to == 1; });
  EXPECT_EQ(c.core(1).progress().at(2).match, c.core(1).log().last_index());
  EXPECT_LT(c.core(1).commit_index(), c.core(1).log().last_index());
  c.node(1).async_writes = false;
  c.sync(1);  // ... until one sync makes all three durable
  EXPECT_EQ(c.core(1).commit_index(), c.core(1).log().last_index());
  c.stabilize();
  EXPECT_EQ(c.core(1).commit_index(), c.core(1).log().last_index());
  EXPECT_EQ(c.node(1).state().size(), c.core(1).log().last_index());
}

// Committed entries are applied only once they are durable on this node too (core.h).
TEST(AsyncPersistenceTest, FollowerAppliesOnlyWhatItsOwnDiskHolds) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Index applied = c.core(2).applied_index();
  c.node(2).async_writes = true;
  Message m = test::append_request(
      1, 2, c.core(1).term(), c.core(1).log().last_index(), c.core(1).log().last_term(),
      test::entries_with_terms({c.core(1).term()}, c.core(1).log().last_index() + 1),
      c.core(1).log().last_index() + 1);
  ASSERT_TRUE(c.deliver(m));
  EXPECT_EQ(c.core(2).commit_index(), m.entries.back().index);
  Ready rd = c.cycle(2);
  EXPECT_TRUE(rd.committed.empty());
  EXPECT_EQ(c.core(2).applied_index(), applied);
  c.sync(2);
  rd = c.cycle(2);
  ASSERT_EQ(rd.committed.size(), 1u);
  EXPECT_EQ(rd.committed.front().index, m.entries.back().index);
}

// A report about an entry a later Ready replaced says nothing about what is there now.
TEST(AsyncPersistenceTest, PersistedIgnoresAnEntryReplacedSinceItsWrite) {
  Cluster c;
  c.node(3).async_writes = true;
  ASSERT_TRUE(
      c.deliver(test::append_request(1, 3, 1, 0, 0, test::entries_with_terms({1, 1, 1}), 0)));
  c.cycle(3);  // 1..3 of term 1 queued
  // A leader of term 2 replaces 2..3.
  ASSERT_TRUE(
      c.deliver(test::append_request(2, 3, 2, 1, 1, test::entries_with_terms({2, 2}, 2), 0)));
  Ready rd = c.cycle(3);
  ASSERT_EQ(rd.entries.size(), 2u);
  EXPECT_EQ(rd.entries.front().index, 2u) << "the replacement is handed out from the cut";

  EXPECT_FALSE(c.core(3).persisted(3, 1)) << "entry 3 is of term 2 now";
  EXPECT_EQ(c.core(3).persisted_index(), 0u);
  EXPECT_FALSE(c.core(3).persisted(4, 2)) << "beyond what was handed out";
  EXPECT_TRUE(c.core(3).persisted(3, 2));
  EXPECT_EQ(c.core(3).persisted_index(), 3u);
}

// A failed write loses every write queued behind it: after recovery the core hands out again
// everything after the durable end of the log, with the hard state, synced.
TEST(AsyncPersistenceTest, FailedWriteDiscardsTheQueueAndEverythingIsHandedOutAgain) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.node(2).async_writes = true;
  const Index durable = c.node(2).disk().last_index();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.core(1).propose("x" + std::to_string(i)).accepted);
    c.process(1);
    c.deliver_where([](const Message& m) { return is_append_to(m, 2); });
    c.cycle(2);
  }
  ASSERT_EQ(c.node(2).queued_writes(), 2u);
  c.node(2).disk_full = true;
  EXPECT_TRUE(c.sync(2).empty()) << "answers to a lost write were sent";
  EXPECT_TRUE(c.core(2).storage_failed());
  EXPECT_EQ(c.node(2).disk().last_index(), durable);

  c.node(2).disk_full = false;
  c.core(2).storage_recovered();
  c.node(2).async_writes = false;
  Ready rd = c.cycle(2);
  ASSERT_FALSE(rd.entries.empty());
  EXPECT_EQ(rd.entries.front().index, durable + 1);
  EXPECT_EQ(rd.entries.back().index, c.core(2).log().last_index());
  EXPECT_TRUE(rd.hard_state.has_value());
  EXPECT_TRUE(rd.must_sync);
  EXPECT_EQ(c.node(2).disk().last_index(), c.core(2).log().last_index());
}

// A crash loses the queued writes; the node restarts from what was durable and its peers
// never heard a promise it cannot keep.
TEST(AsyncPersistenceTest, CrashLosesQueuedWritesButNoPromiseWasMade) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.node(3).async_writes = true;
  const Index durable = c.node(3).disk().last_index();
  ASSERT_TRUE(c.core(1).propose("x").accepted);
  c.process(1);
  c.deliver_where([](const Message& m) { return is_append_to(m, 3); });
  c.cycle(3);
  EXPECT_EQ(c.core(1).progress().at(3).match, durable);
  c.node(3).restart();
  EXPECT_EQ(c.core(3).log().last_index(), durable);
  c.node(3).async_writes = false;
  c.tick_all(3 * c.core(1).config().heartbeat_ticks);
  EXPECT_EQ(c.core(3).log().last_index(), c.core(1).log().last_index());
  c.expect_state_machine_safety();
}

// The node learns role, leader and term changes from Ready::soft_state instead of diffing.
TEST(AsyncPersistenceTest, SoftStateReportsEveryRoleLeaderAndTermChange) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  ASSERT_FALSE(c.node(1).soft_states().empty());
  const SoftState& led = c.node(1).soft_states().back();
  EXPECT_EQ(led.role, Role::kLeader);
  EXPECT_EQ(led.leader, 1u);
  EXPECT_EQ(led.term, c.core(1).term());
  ASSERT_FALSE(c.node(2).soft_states().empty());
  EXPECT_EQ(c.node(2).soft_states().back(), (SoftState{Role::kFollower, 1, c.core(1).term()}));

  // Nothing changed: no soft state.
  const size_t reported = c.node(1).soft_states().size();
  ASSERT_TRUE(c.core(1).propose("x").accepted);
  c.stabilize();
  EXPECT_EQ(c.node(1).soft_states().size(), reported);

  // Check-quorum: cut off, the leader steps down without any message or write.
  c.isolate(1);
  c.tick_all(2 * c.core(1).config().election_ticks);
  ASSERT_NE(c.core(1).role(), Role::kLeader);
  EXPECT_NE(c.node(1).soft_states().back().role, Role::kLeader);
}

TEST(ConfigTest, ValidateNamesWhatIsWrong) {
  Config ok;
  ok.id = 1;
  ok.voters = {1, 2, 3};
  EXPECT_TRUE(ok.validate());

  auto error_of = [&](auto change) {
    Config c = ok;
    change(c);
    Status s = c.validate();
    EXPECT_FALSE(s);
    return s.message();
  };
  EXPECT_NE(error_of([](Config& c) { c.id = 0; }).find("id"), std::string::npos);
  EXPECT_NE(error_of([](Config& c) { c.voters = {2, 3}; }).find("voters"), std::string::npos);
  EXPECT_NE(error_of([](Config& c) { c.voters = {1, 2, 2}; }).find("distinct"), std::string::npos);
  EXPECT_NE(error_of([](Config& c) { c.voters = {0, 1}; }).find("non-zero"), std::string::npos);
  EXPECT_NE(error_of([](Config& c) { c.election_ticks = 0; }).find("positive"), std::string::npos);
  EXPECT_NE(
      error_of([](Config& c) { c.heartbeat_ticks = c.election_ticks; }).find("heartbeat_ticks"),
      std::string::npos);
  EXPECT_NE(error_of([](Config& c) { c.max_inflight_appends = 0; }).find("max_inflight_appends"),
            std::string::npos);
}

// Checks that hold in release builds too: a core is never built from a configuration or a
// restored log it cannot run with, and misuse of the Ready cycle is refused.
TEST(ConfigTest, CoreRefusesInvalidConfigAndMisuse) {
  Config bad;
  bad.id = 4;
  bad.voters = {1, 2, 3};
  EXPECT_THROW(Core{bad}, std::invalid_argument);

  Config good;
  good.id = 1;
  good.voters = {1, 2, 3};
  RestoredState gap;
  gap.entries = test::entries_with_terms({1, 1});
  gap.entries[1].index = 5;
  EXPECT_THROW((Core{good, gap}), std::invalid_argument);

  Core core(good);
  EXPECT_THROW(core.advance(), std::logic_error);
  for (int i = 0; i < 1000 && !core.has_ready(); ++i) core.tick();
  ASSERT_TRUE(core.has_ready());
  core.ready();
  EXPECT_THROW(core.tick(), std::logic_error);
  EXPECT_THROW(core.ready(), std::logic_error);
  EXPECT_THROW(core.persisted(1, 1), std::logic_error);
  core.advance();
}

}  // namespace
}  // namespace nomad::raft
