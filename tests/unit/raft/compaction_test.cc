// Log compaction (§7 of the Raft paper, §5 of the thesis): "Each server takes snapshots
// independently, covering just the committed entries in its log"; "the server deletes all log
// entries up through the last included index". The snapshot keeps the last included index and
// term "to support the AppendEntries consistency check for the first log entry following the
// snapshot".

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::append_request;
using test::Cluster;
using test::ClusterOptions;
using test::entries_with_terms;
using test::of_type;
using test::parse_state;
using test::restored_with_snapshot;
using test::vote_request;

// Node 1 leads a three-node cluster in which `count` commands are committed and applied
// everywhere.
void lead_and_commit(Cluster& c, size_t count) {
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  ASSERT_TRUE(c.core(1).propose(test::commands(count)).accepted);
  c.stabilize();
  c.tick_all(c.core(1).config().heartbeat_ticks);
  for (NodeId id : c.ids()) {
    ASSERT_EQ(c.node(id).applied_index(), c.core(1).log().last_index()) << "node " << id;
  }
}

// RaftLog on its own: compact(i) drops [first_index, i], keeps (i, last_index], and the log
// still knows the term at i, which is what the consistency check for entry i + 1 asks for.
TEST(RaftLogCompactionTest, CompactDropsEntriesUpToIndexButTermAtSnapshotIndexStillAnswers) {
  RaftLog log;
  log.append(entries_with_terms({1, 1, 2, 2, 3}));
  log.handed_to(5);
  log.stable_to(5);
  log.commit_to(4);
  log.applied_to(4);

  log.compact(3);
  EXPECT_EQ(log.snapshot_index(), 3u);
  EXPECT_EQ(log.first_index(), 4u);
  EXPECT_EQ(log.last_index(), 5u);
  EXPECT_EQ(log.term_at(3), Term{2});
  EXPECT_EQ(log.term_at(2), std::nullopt);
  EXPECT_EQ(log.term_at(1), std::nullopt);
  EXPECT_TRUE(log.matches(3, 2));
  EXPECT_FALSE(log.matches(3, 1));
  EXPECT_EQ(log.at(4), entries_with_terms({2}, 4).front());
  EXPECT_EQ(log.at(5), entries_with_terms({3}, 5).front());
  EXPECT_EQ(log.committed(), 4u);
  EXPECT_EQ(log.applied(), 4u);
  EXPECT_EQ(log.stable(), 5u);
  EXPECT_EQ(log.last_index_of_term(2), Index{4});
  EXPECT_EQ(log.last_index_of_term(1), std::nullopt) << "term 1 lies wholly in the snapshot";
  EXPECT_TRUE(log.slice(1, 3, 100).empty());
  EXPECT_EQ(log.slice(1, 5, 100).size(), 2u);

  // Compacting everything leaves an empty log whose last entry is the snapshot's.
  log.applied_to(4);
  log.compact(4);
  EXPECT_EQ(log.last_index(), 5u);
  log.commit_to(5);
  log.applied_to(5);
  log.compact(5);
  EXPECT_EQ(log.first_index(), 6u);
  EXPECT_EQ(log.last_index(), 5u);
  EXPECT_EQ(log.last_term(), 3u);
  EXPECT_EQ(log.term_at(5), Term{3});
  EXPECT_TRUE(log.is_up_to_date(5, 3));
  EXPECT_FALSE(log.is_up_to_date(4, 3));

  // A snapshot from the leader replaces the whole log and counts as committed and applied.
  log.append(entries_with_terms({3, 3}, 6));
  log.reset_to_snapshot(9, 4);
  EXPECT_EQ(log.first_index(), 10u);
  EXPECT_EQ(log.last_index(), 9u);
  EXPECT_EQ(log.term_at(9), Term{4});
  EXPECT_EQ(log.term_at(7), std::nullopt);
  EXPECT_EQ(log.committed(), 9u);
  EXPECT_EQ(log.applied(), 9u);
  EXPECT_EQ(log.stable(), 9u);
}

// §7: the snapshot replaces the entries up to its last included index; the entries after it
// stay, in the core and on disk, and the snapshot remembers that index and its term.
TEST(CompactionTest, CompactDiscardsEntriesUpToIndexAndKeepsLaterOnes) {
  Cluster c;
  lead_and_commit(c, 10);
  const Core& leader = c.core(1);
  const Index last = leader.log().last_index();
  const Index at = last - 4;
  const Entry kept_first = leader.log().at(at + 1);
  const Term term_at = leader.log().at(at).term;

  ASSERT_TRUE(c.node(1).compact(at));
  EXPECT_EQ(leader.log().snapshot_index(), at);
  EXPECT_EQ(leader.log().first_index(), at + 1);
  EXPECT_EQ(leader.log().last_index(), last);
  EXPECT_EQ(leader.log().at(at + 1), kept_first);
  EXPECT_EQ(leader.log().term_at(at), term_at) << "the snapshot point must keep its term";
  EXPECT_EQ(leader.log().term_at(at - 1), std::nullopt);
  EXPECT_EQ(leader.snapshot().index, at);
  EXPECT_EQ(leader.snapshot().term, term_at);
  ASSERT_TRUE(leader.snapshot().data);
  auto state = parse_state(*leader.snapshot().data);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->size(), at);
  EXPECT_EQ(*state, std::vector<std::string>(c.node(1).state().begin(),
                                             c.node(1).state().begin() + static_cast<long>(at)));
  // Compaction changes nothing that must be persisted or sent.
  EXPECT_FALSE(leader.has_ready());
  EXPECT_EQ(leader.commit_index(), last);
  EXPECT_EQ(leader.applied_index(), last);
  EXPECT_EQ(c.node(1).disk().entries.size(), last - at);
  EXPECT_EQ(c.node(1).disk().entries.front(), kept_first);
}

// Core::compact(): "covering just the committed entries" — and only what the state machine
// has applied, since the application snapshots its state machine. An index above the applied
// index, or at or below the current snapshot, is refused and changes nothing.
TEST(CompactionTest, CompactRefusesIndexAboveAppliedOrAtOrBelowTheSnapshot) {
  Cluster c;
  lead_and_commit(c, 6);
  Core& leader = c.core(1);

  // A new entry that is committed but not yet applied: the core knows the commit index before
  // the application has seen the Ready that applies it.
  ASSERT_TRUE(leader.propose("unapplied").accepted);
  c.process(1);
  c.deliver_where([](const Message& m) { return m.type == MessageType::kAppend && m.to == 2; });
  c.process(2);
  c.deliver_where([](const Message& m) { return m.from == 2 && m.to == 1; });
  const Index last = leader.log().last_index();
  ASSERT_EQ(leader.commit_index(), last);
  ASSERT_EQ(leader.applied_index(), last - 1);

  auto data = std::make_shared<const std::string>("x");
  EXPECT_FALSE(leader.compact(last, data)) << "compacted beyond the applied index";
  EXPECT_FALSE(leader.compact(last + 1, data)) << "compacted beyond the log";
  EXPECT_FALSE(leader.compact(0, data));
  EXPECT_EQ(leader.log().snapshot_index(), 0u);
  EXPECT_EQ(leader.snapshot().index, 0u);
  EXPECT_EQ(leader.snapshot().data, nullptr);
  c.process(1);
  ASSERT_EQ(leader.applied_index(), last);

  ASSERT_TRUE(c.node(1).compact(last - 3));
  const Snapshot first = leader.snapshot();
  EXPECT_FALSE(leader.compact(last - 3, data)) << "compacted again at the snapshot index";
  EXPECT_FALSE(leader.compact(last - 5, data)) << "compacted below the snapshot index";
  EXPECT_EQ(leader.log().snapshot_index(), last - 3);
  EXPECT_EQ(leader.snapshot().index, first.index);
  EXPECT_EQ(leader.snapshot().data, first.data) << "a refused compact replaced the snapshot";
  EXPECT_EQ(leader.log().first_index(), last - 2);

  // Compacting further, up to the applied index, is allowed.
  EXPECT_TRUE(c.node(1).compact(last));
  EXPECT_EQ(leader.log().first_index(), last + 1);
  EXPECT_EQ(leader.log().last_term(), leader.term());
}

// §7: the snapshot keeps the last included term "to support the AppendEntries consistency
// check for the first log entry following the snapshot". A leader that compacted its whole
// log still replicates new entries to followers that have the snapshot's entries.
TEST(CompactionTest, AppendAfterCompactingEverythingUsesTheSnapshotTermForTheConsistencyCheck) {
  Cluster c;
  lead_and_commit(c, 4);
  const Index last = c.core(1).log().last_index();
  const Term term = c.core(1).term();
  ASSERT_TRUE(c.node(1).compact(last));
  ASSERT_EQ(c.core(1).log().first_index(), last + 1);

  ASSERT_TRUE(c.core(1).propose("after compaction").accepted);
  auto appends = of_type(c.process(1), MessageType::kAppend);
  ASSERT_EQ(appends.size(), 2u);
  for (const Message& m : appends) {
    EXPECT_EQ(m.index, last);
    EXPECT_EQ(m.log_term, term);
    ASSERT_EQ(m.entries.size(), 1u);
  }
  c.stabilize();
  c.tick_all(c.core(1).config().heartbeat_ticks);
  for (NodeId id : c.ids()) {
    EXPECT_EQ(c.core(id).commit_index(), last + 1) << "node " << id;
    EXPECT_EQ(c.node(id).state().back(), "after compaction") << "node " << id;
  }
  for (const Message& m : c.trace()) EXPECT_NE(m.type, MessageType::kSnapshot);
}

// §7: "Each server takes snapshots independently". A follower that compacted its own log
// keeps accepting entries, and answers an old AppendEntries whose previous entry it has
// compacted away with its commit index instead of failing the consistency check.
TEST(CompactionTest, FollowerCompactsIndependentlyAndKeepsReplicating) {
  Cluster c;
  lead_and_commit(c, 6);
  const Index last = c.core(2).log().last_index();
  ASSERT_TRUE(c.node(2).compact(last - 1));
  EXPECT_EQ(c.core(1).log().snapshot_index(), 0u) << "the leader's log is its own";

  // A stale AppendEntries for entries node 2 compacted away.
  c.deliver(append_request(1, 2, c.core(1).term(), 1, c.core(1).log().at(1).term,
                           c.core(1).log().slice(2, 3, 10), 1));
  auto replies = of_type(c.process(2), MessageType::kAppendResponse, 1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(replies.front().reject);
  EXPECT_EQ(replies.front().index, last);
  EXPECT_EQ(c.core(2).log().first_index(), last);

  ASSERT_TRUE(c.core(1).propose(test::commands(3, "more")).accepted);
  c.stabilize();
  c.tick_all(c.core(1).config().heartbeat_ticks);
  EXPECT_EQ(c.core(2).log().last_index(), last + 3);
  EXPECT_EQ(c.core(2).commit_index(), last + 3);
  EXPECT_EQ(c.node(2).state(), c.node(1).state());
  EXPECT_EQ(c.node(2).disk().snapshot.index, last - 1);
  EXPECT_EQ(c.node(2).disk().entries.size(), 4u);
  c.expect_state_machine_safety();
}

// §5.4.1 with a compacted log: the up-to-date check compares against the snapshot's last
// included index and term when no entry follows the snapshot.
TEST(CompactionTest, CompactedLogJudgesCandidatesByItsSnapshotTerm) {
  ClusterOptions o;
  o.restored[2] = restored_with_snapshot(3, 5, 3, {});
  o.tweak = [](Config& cfg) { cfg.check_quorum = false; };
  Cluster c(o);
  ASSERT_EQ(c.core(2).log().last_index(), 5u);
  ASSERT_EQ(c.core(2).log().last_term(), 3u);

  auto reply = [&](Message m) {
    c.deliver(m);
    auto r = of_type(c.process(2), MessageType::kVoteResponse, m.from);
    return r.empty() ? Message{} : r.front();
  };
  EXPECT_TRUE(reply(vote_request(1, 2, 4, 4, 3)).reject) << "shorter log of the same term";
  EXPECT_TRUE(reply(vote_request(1, 2, 5, 9, 2)).reject) << "longer log of an earlier term";
  EXPECT_FALSE(reply(vote_request(3, 2, 6, 5, 3)).reject) << "the same last entry";

  // And the compacted node campaigns with its snapshot's last index and term.
  ASSERT_TRUE(c.tick_until_role(2, Role::kPreCandidate));
  auto requests = of_type(c.process(2), MessageType::kPreVote);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests.front().index, 5u);
  EXPECT_EQ(requests.front().log_term, 3u);
}

}  // namespace
}  // namespace nomad::raft
