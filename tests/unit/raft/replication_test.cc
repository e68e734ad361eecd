// Log replication (§5.3 of the Raft paper and the AppendEntries half of Figure 2).

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace replication_test {

using test::append_request;
using test::Cluster;
using test::ClusterOptions;
using test::entries_with_terms;
using test::of_type;
using test::repeat;
using test::restored;

std::vector<Term> terms_of(const RaftLog& log) {
  std::vector<Term> out;
  for (Index i = log.first_index(); i <= log.last_index(); ++i) out.push_back(log.at(i).term);
  return out;
}

// Steps an AppendEntries into node 2 (from leader 1) and returns node 2's single reply.
Message append_reply(Cluster& c, Message m) {
  c.deliver(m);
  auto replies = of_type(c.process(2), MessageType::kAppendResponse, 1);
  EXPECT_EQ(replies.size(), 1u);
  return replies.empty() ? Message{} : replies.front();
}

// §8 / thesis §6.4: "each leader commit a blank no-op entry into the log at the start of its
// term", which is what lets it commit entries of earlier terms (§5.4.2).
TEST(ReplicationTest, NewLeaderAppendsNoopOfItsTermAndCommitsIt) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  const Core& leader = c.core(1);
  const Index last = leader.log().last_index();
  ASSERT_GE(last, 1u);
  EXPECT_EQ(leader.log().at(last).term, leader.term());
  EXPECT_EQ(leader.log().at(last).type, EntryType::kNoop);
  ASSERT_FALSE(c.node(1).disk().entries.empty());
  EXPECT_EQ(c.node(1).disk().entries.back(), leader.log().at(last));

  c.stabilize();
  c.tick_all(leader.config().heartbeat_ticks);
  for (NodeId id : c.ids()) {
    EXPECT_EQ(c.core(id).commit_index(), last) << "node " << id;
    EXPECT_EQ(c.node(id).applied_index(), last) << "node " << id;
  }
}

// Figure 2 (AppendEntries receiver): "Reply false if log doesn't contain an entry at
// prevLogIndex whose term matches prevLogTerm". The refusal carries the fast-backtracking
// hint: the follower's term at that index (0 if its log is too short) and the first index it
// holds for that term (or its last index + 1).
TEST(ReplicationTest, AppendIsRejectedWithoutMatchingEntryAtPrevLogIndex) {
  ClusterOptions o;
  o.restored[2] = restored(2, {1, 1});
  Cluster c(o);

  Message r = append_reply(c, append_request(1, 2, 2, 3, 2, entries_with_terms({2}, 4), 0));
  EXPECT_TRUE(r.reject);
  EXPECT_EQ(r.conflict_term, 0u);
  EXPECT_EQ(r.conflict_index, 3u);

  r = append_reply(c, append_request(1, 2, 2, 2, 2, entries_with_terms({2}, 3), 0));
  EXPECT_TRUE(r.reject);
  EXPECT_EQ(r.conflict_term, 1u);
  EXPECT_EQ(r.conflict_index, 1u);
  EXPECT_EQ(terms_of(c.core(2).log()), (std::vector<Term>{1, 1}));

  r = append_reply(c, append_request(1, 2, 2, 2, 1, entries_with_terms({2}, 3), 0));
  EXPECT_FALSE(r.reject);
  EXPECT_EQ(r.index, 3u);
  EXPECT_EQ(c.core(2).leader_id(), 1u);
}

// Figure 2 (AppendEntries receiver): "If an existing entry conflicts with a new one (same
// index but different terms), delete the existing entry and all that follow it".
TEST(ReplicationTest, ConflictingEntriesAreDeletedAndReplaced) {
  ClusterOptions o;
  o.restored[2] = restored(1, {1, 1, 1});
  Cluster c(o);

  Message r = append_reply(c, append_request(1, 2, 2, 1, 1, entries_with_terms({2}, 2), 0));
  EXPECT_FALSE(r.reject);
  EXPECT_EQ(r.index, 2u);
  EXPECT_EQ(terms_of(c.core(2).log()), (std::vector<Term>{1, 2}));
  const auto& disk = c.node(2).disk().entries;
  ASSERT_EQ(disk.size(), 2u) << "the replaced suffix is still on disk";
  EXPECT_EQ(disk[1].term, 2u);
}

// A stale or reordered AppendEntries holds entries the follower already has. Nothing
// conflicts, so nothing may be deleted: entries after them may already count towards a
// majority on the leader.
TEST(ReplicationTest, StaleAppendNeverDeletesMatchingEntries) {
  ClusterOptions o;
  o.restored[2] = restored(1, {1, 1, 1, 1});
  Cluster c(o);

  Message r = append_reply(c, append_request(1, 2, 1, 0, 0, entries_with_terms({1}, 1), 0));
  EXPECT_FALSE(r.reject);
  r = append_reply(c, append_request(1, 2, 1, 1, 1, entries_with_terms({1, 1}, 2), 0));
  EXPECT_FALSE(r.reject);
  EXPECT_EQ(c.core(2).log().last_index(), 4u);
  EXPECT_EQ(c.node(2).disk().entries.size(), 4u);
}

// Figure 2 (AppendEntries receiver): "If leaderCommit > commitIndex, set commitIndex =
// min(leaderCommit, index of last new entry)". Entries beyond what the message covered are
// not known to match the leader's and must not be committed.
TEST(ReplicationTest, FollowerCommitIsMinOfLeaderCommitAndLastNewEntry) {
  ClusterOptions o;
  o.restored[2] = restored(3, {1, 1, 2});  // entry 3 (t2) may differ from the leader's entry 3
  Cluster c(o);

  append_reply(c, append_request(1, 2, 3, 1, 1, entries_with_terms({1}, 2), 3));
  EXPECT_EQ(c.core(2).commit_index(), 2u);
  EXPECT_EQ(c.node(2).applied_index(), 2u);

  // An older message with a lower commit does not move it back.
  append_reply(c, append_request(1, 2, 3, 0, 0, {}, 1));
  EXPECT_EQ(c.core(2).commit_index(), 2u);

  // Once entry 3 is shown to match, it commits.
  append_reply(c, append_request(1, 2, 3, 3, 2, {}, 3));
  EXPECT_EQ(c.core(2).commit_index(), 3u);
}

// The same rule for heartbeats, which carry no entries to prove anything: the leader caps
// their commit index at what the follower is known to hold, so a follower whose log still
// diverges never commits (and applies) its own stale entries.
TEST(ReplicationTest, HeartbeatNeverCommitsEntriesFollowerIsNotKnownToShare) {
  ClusterOptions o;
  o.restored[1] = restored(3, {1, 3, 3}, 1);
  o.restored[2] = restored(3, {1, 3, 3}, 1);
  o.restored[3] = restored(3, {1, 2, 2, 2}, 1);  // entries 2..4 of a deposed term-2 leader
  Cluster c(o);
  ASSERT_TRUE(c.elect(1));
  c.take([](const Message& m) { return m.to == 3; });  // node 3 misses the new leader's appends
  c.stabilize();
  const Index committed = c.core(1).commit_index();
  ASSERT_EQ(committed, 4u);

  for (int i = 0; i < c.core(1).config().heartbeat_ticks; ++i) c.tick(1);
  ASSERT_GT(c.deliver_where(
                [](const Message& m) { return m.type == MessageType::kHeartbeat && m.to == 3; }),
            0u);
  c.process(3);
  EXPECT_EQ(c.core(3).commit_index(), 1u) << "committed its own divergent entries";

  c.stabilize();
  c.tick_all(c.core(1).config().heartbeat_ticks);
  EXPECT_EQ(c.node(3).disk().entries, c.node(1).disk().entries);
  EXPECT_EQ(c.core(3).commit_index(), committed);
  c.expect_state_machine_safety();
}

// §5.3: "the protocol can be optimized to reduce the number of rejected AppendEntries RPCs":
// with the conflict term and its first index, the leader skips a whole term per round trip
// instead of one entry. A follower with a long divergent (or missing) suffix converges in a
// couple of round trips.
TEST(ReplicationTest, FastBacktrackingConvergesInFewRoundTrips) {
  struct Scenario {
    const char* name;
    std::vector<Term> leader_log;    // also node 2's, so node 1 wins the election
    std::vector<Term> follower_log;  // node 3
    Term hint_term;                  // the first rejection's conflict_term / conflict_index
    Index hint_index;
  };
  const Scenario scenarios[] = {
      {"longer divergent suffix of a term the leader never had", repeat({1}, 3, 30),
       repeat({1}, 2, 60), 2, 2},
      {"divergent suffix of a term the leader has a prefix of", repeat(repeat({1}, 2, 4), 4, 20),
       repeat({1}, 2, 40), 2, 2},
      {"far behind", repeat({1}, 3, 30), {1}, 0, 2},
  };
  for (const Scenario& s : scenarios) {
    SCOPED_TRACE(s.name);
    ClusterOptions o;
    o.restored[1] = restored(4, s.leader_log, 1);
    o.restored[2] = restored(4, s.leader_log, 1);
    o.restored[3] = restored(4, s.follower_log, 1);
    Cluster c(o);
    ASSERT_TRUE(c.elect(1));
    c.stabilize();

    std::vector<Message> rejections;
    for (const Message& m : c.trace()) {
      if (m.type == MessageType::kAppendResponse && m.from == 3 && m.reject) {
        rejections.push_back(m);
      }
    }
    ASSERT_FALSE(rejections.empty());
    EXPECT_LE(rejections.size(), 2u);
    EXPECT_EQ(rejections.front().conflict_term, s.hint_term);
    EXPECT_EQ(rejections.front().conflict_index, s.hint_index);
    EXPECT_EQ(c.node(3).disk().entries, c.node(1).disk().entries);
    EXPECT_EQ(terms_of(c.core(3).log()), terms_of(c.core(1).log()));
    c.tick_all(c.core(1).config().heartbeat_ticks);
    c.expect_state_machine_safety();
  }
}

// A commit-only append (types.h) moves the follower's commit like any append but is not
// acknowledged: the acknowledgements of the appends that carried the entries already told
// the leader. A follower that lacks the entry it names still refuses it, so the leader learns
// it must probe.
TEST(ReplicationTest, CommitOnlyAppendCommitsWithoutAnAnswerAndIsStillRefusedOnAMismatch) {
  ClusterOptions o;
  o.restored[2] = restored(1, {1, 1});
  Cluster c(o);

  Message commit = append_request(1, 2, 1, 2, 1, {}, 2);
  commit.commit_only = true;
  c.deliver(commit);
  EXPECT_TRUE(of_type(c.process(2), MessageType::kAppendResponse, 1).empty());
  EXPECT_EQ(c.core(2).commit_index(), 2u);

  Message beyond = append_request(1, 2, 1, 3, 1, {}, 3);
  beyond.commit_only = true;
  Message r = append_reply(c, beyond);
  EXPECT_TRUE(r.reject);
  EXPECT_EQ(r.conflict_index, 3u);
  EXPECT_EQ(c.core(2).commit_index(), 2u);
}

// The leader marks commit-only only the appends that announce a new commit index without
// entries to a follower it streams to; appends with entries still ask for an answer, and the
// cluster converges with one acknowledgement per follower per round.
TEST(ReplicationTest, LeaderAnnouncesACommitWithCommitOnlyAppendsThatGetNoAnswer) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  ProposeResult a = c.core(1).propose("a");
  ASSERT_TRUE(a.accepted);
  for (const Message& m : of_type(c.process(1), MessageType::kAppend)) {
    EXPECT_FALSE(m.commit_only);
    EXPECT_EQ(m.entries.size(), 1u);
  }
  c.deliver_where([](const Message& m) { return m.type == MessageType::kAppend; });
  std::vector<Message> acks;
  for (NodeId id : {NodeId{2}, NodeId{3}}) {
    auto out = of_type(c.process(id), MessageType::kAppendResponse, 1);
    acks.insert(acks.end(), out.begin(), out.end());
  }
  ASSERT_EQ(acks.size(), 2u);
  c.deliver_where([](const Message& m) { return m.type == MessageType::kAppendResponse; });
  std::vector<Message> announced = of_type(c.process(1), MessageType::kAppend);
  EXPECT_EQ(c.core(1).commit_index(), a.last_index);
  ASSERT_EQ(announced.size(), 2u);
  for (const Message& m : announced) {
    EXPECT_TRUE(m.commit_only);
    EXPECT_TRUE(m.entries.empty());
    EXPECT_EQ(m.commit, a.last_index);
  }
  c.deliver_where([](const Message& m) { return m.type == MessageType::kAppend; });
  for (NodeId id : {NodeId{2}, NodeId{3}}) {
    EXPECT_TRUE(of_type(c.process(id), MessageType::kAppendResponse, 1).empty());
    EXPECT_EQ(c.core(id).commit_index(), a.last_index) << "node " << id;
  }
}

// While appends to a follower are in flight, a new commit index is not announced to it on its
// own: the follower learns it when its last acknowledgement is in (or from the next append),
// so pipelined replication spends no messages on commits.
TEST(ReplicationTest, AFollowerWithAppendsInFlightLearnsTheCommitOnceItsLastAckIsIn) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  auto appends_to = [](NodeId to) {
    return [to](const Message& m) { return m.type == MessageType::kAppend && m.to == to; };
  };
  ASSERT_TRUE(c.core(1).propose("a").accepted);
  c.process(1);
  ProposeResult b = c.core(1).propose("b");
  ASSERT_TRUE(b.accepted);
  c.process(1);

  c.deliver_where(appends_to(2));
  c.process(2);
  c.deliver_where([](const Message& m) { return m.type == MessageType::kAppendResponse; });
  std::vector<Message> out = c.process(1);
  ASSERT_EQ(c.core(1).commit_index(), b.last_index);
  auto to_2 = of_type(out, MessageType::kAppend, 2);
  ASSERT_EQ(to_2.size(), 1u);
  EXPECT_TRUE(to_2.front().commit_only);
  EXPECT_TRUE(of_type(out, MessageType::kAppend, 3).empty())
      << "node 3 has both appends in flight: its acknowledgements come first";

  c.deliver_where(appends_to(3));
  c.process(3);
  EXPECT_LT(c.core(3).commit_index(), b.last_index);
  c.deliver_where([](const Message& m) { return m.type == MessageType::kAppendResponse; });
  auto to_3 = of_type(c.process(1), MessageType::kAppend, 3);
  ASSERT_EQ(to_3.size(), 1u);
  EXPECT_TRUE(to_3.front().commit_only);
  EXPECT_EQ(to_3.front().commit, b.last_index);
  c.stabilize();
  for (NodeId id : c.ids()) EXPECT_EQ(c.core(id).commit_index(), b.last_index) << "node " << id;
}

}  // namespace replication_test
}  // namespace nomad::raft
