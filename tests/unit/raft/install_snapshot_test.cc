// InstallSnapshot (§7 of the Raft paper, §5 of the thesis): "the leader must occasionally send
// snapshots to followers that lag behind" — "when the leader has already discarded the next
// log entry that it needs to send to a follower". This file holds what the follower does with
// a snapshot and how nodes keep serving from one; snapshot_transfer_test.cc holds the chunked
// transfer itself. The receiver's rules, as numbered in Figure 13 of the paper:
//   6. If existing log entry has same index and term as snapshot's last included entry,
//      retain log entries following it and reply
//   7. Discard the entire log
//   8. Reset state machine using snapshot contents

#include <gtest/gtest.h>

#include "harness.h"
#include "snapshot_scenarios.h"

namespace nomad::raft {
namespace {

using test::append_request;
using test::Cluster;
using test::ClusterOptions;
using test::delivered;
using test::expect_same_log_after_snapshot;
using test::heartbeat_ticks;
using test::kSmallChunk;
using test::leave_3_behind_and_compact;
using test::of_type;
using test::restored;
using test::restored_with_snapshot;
using test::serialize_state;
using test::snapshot_chunk;
using test::snapshot_options;
using test::snapshot_reply;

// §7: "the leader uses a new RPC called InstallSnapshot to send snapshots to followers that
// are too far behind". Afterwards the follower's state machine is the leader's, its log
// continues right after the snapshot, and new entries reach it by AppendEntries again.
TEST(InstallSnapshotTest, FollowerBehindTheLeadersCompactedLogCatchesUpThroughInstallSnapshot) {
  Cluster c(snapshot_options());
  const Index s = leave_3_behind_and_compact(c, 10);
  c.node(3).restart();  // node 3 was down, not only cut off
  c.heal();
  c.tick_all(heartbeat_ticks(c));

  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(c.node(3).installed_snapshots()[0].index, s);
  EXPECT_EQ(c.node(3).installed_snapshots()[0].term, c.core(1).snapshot().term);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
  EXPECT_EQ(c.core(3).log().snapshot_index(), s);
  EXPECT_EQ(c.core(3).log().first_index(), s + 1);
  expect_same_log_after_snapshot(c, 3, 1);
  EXPECT_EQ(c.core(3).commit_index(), c.core(1).commit_index());
  EXPECT_EQ(c.node(3).disk().snapshot.index, s);
  ASSERT_FALSE(c.node(3).disk().entries.empty());
  EXPECT_EQ(c.node(3).disk().entries.front().index, s + 1);
  EXPECT_EQ(c.core(1).progress().at(3).match, c.core(1).log().last_index());
  EXPECT_EQ(c.core(1).progress().at(3).state, ReplicationState::kReplicate);

  const size_t before = c.trace().size();
  ASSERT_TRUE(c.core(1).propose(test::commands(3, "after")).accepted);
  c.stabilize();
  c.tick_all(heartbeat_ticks(c));
  EXPECT_TRUE(delivered(c, MessageType::kSnapshot, 3, before).empty());
  EXPECT_FALSE(delivered(c, MessageType::kAppend, 3, before).empty());
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
  EXPECT_EQ(c.node(3).state().back(), "after2");
  EXPECT_EQ(c.node(3).installed_snapshots().size(), 1u);
  c.expect_state_machine_safety();
}

// Rule 6: "If existing log entry has same index and term as snapshot's last included entry,
// retain log entries following it and reply". Nothing is installed; the follower commits up
// to the snapshot's index from its own log and says it is done.
TEST(InstallSnapshotTest, FollowerHoldingTheSnapshotsLastEntryKeepsItsLogAndCommitsUpToIt) {
  ClusterOptions o;
  o.restored[2] = restored(1, {1, 1, 1, 1});
  Cluster c(o);
  const std::vector<Entry> before(c.node(2).disk().entries);

  Message r = snapshot_reply(
      c, snapshot_chunk(1, 2, 2, 3, 1, 0, serialize_state({"e1", "e2", "e3"}), true));
  EXPECT_FALSE(r.reject);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.index, 3u);
  EXPECT_TRUE(c.node(2).installed_snapshots().empty());
  EXPECT_EQ(c.core(2).commit_index(), 3u);
  EXPECT_EQ(c.core(2).log().first_index(), 1u);
  EXPECT_EQ(c.core(2).log().last_index(), 4u) << "entry 4, after the snapshot, was dropped";
  EXPECT_EQ(c.node(2).disk().entries, before);
  EXPECT_EQ(c.node(2).disk().hard_state.commit, 3u);
  EXPECT_EQ(c.node(2).state(), (std::vector<std::string>{"e1", "e2", "e3"}));
  EXPECT_EQ(c.core(2).leader_id(), 1u);
}

// Rule 7: "Discard the entire log" when the follower does not hold the snapshot's last entry:
// an uncommitted suffix from a deposed leader's term cannot be trusted to match anything.
TEST(InstallSnapshotTest, FollowerWithDivergentSuffixReplacesItsWholeLogWithTheSnapshot) {
  ClusterOptions o;
  o.restored[2] = restored(2, {1, 1, 2, 2}, 1);  // entries 3 and 4 of a deposed term-2 leader
  Cluster c(o);
  c.process(2);
  ASSERT_EQ(c.node(2).state(), (std::vector<std::string>{"e1"}));
  const std::vector<std::string> state{"e1", "x2", "x3", "x4"};

  Message r = snapshot_reply(c, snapshot_chunk(1, 2, 3, 4, 3, 0, serialize_state(state), true));
  EXPECT_FALSE(r.reject);
  EXPECT_TRUE(r.done);
  ASSERT_EQ(c.node(2).installed_snapshots().size(), 1u);
  EXPECT_EQ(c.node(2).installed_snapshots()[0].index, 4u);
  EXPECT_EQ(c.node(2).installed_snapshots()[0].term, 3u);
  EXPECT_EQ(c.core(2).log().first_index(), 5u);
  EXPECT_EQ(c.core(2).log().last_index(), 4u);
  EXPECT_EQ(c.core(2).log().last_term(), 3u);
  EXPECT_EQ(c.core(2).log().term_at(3), std::nullopt);
  EXPECT_EQ(c.core(2).commit_index(), 4u);
  EXPECT_TRUE(c.node(2).disk().entries.empty());
  EXPECT_EQ(c.node(2).disk().snapshot.index, 4u);
  EXPECT_EQ(c.node(2).disk().hard_state.commit, 4u);
  EXPECT_EQ(c.node(2).state(), state);

  // The log continues after the snapshot; the consistency check uses the snapshot's term.
  c.deliver(append_request(1, 2, 3, 4, 3, test::entries_with_terms({3}, 5), 5));
  auto acks = of_type(c.process(2), MessageType::kAppendResponse, 1);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_FALSE(acks.front().reject);
  EXPECT_EQ(acks.front().index, 5u);
  EXPECT_EQ(c.node(2).state().back(), "e5");
}

// Rule 7 in a cluster: a deposed leader's uncommitted entries, on a node that missed the
// entries the new leader has since compacted, vanish when it installs the snapshot.
TEST(InstallSnapshotTest, DeposedLeadersUncommittedEntriesAreReplacedBySnapshot) {
  ClusterOptions o = snapshot_options(kSmallChunk);
  o.tweak = [](Config& cfg) {
    cfg.snapshot_chunk_bytes = kSmallChunk;
    cfg.check_quorum = false;  // the deposed leader keeps leading alone until it hears more
  };
  Cluster c(o);
  ASSERT_TRUE(c.elect(3));
  c.stabilize();
  c.isolate(3);
  ASSERT_TRUE(c.core(3).propose(test::commands(3, "lost")).accepted);
  c.process(3);
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  ASSERT_TRUE(c.core(1).propose(test::commands(5, "kept")).accepted);
  c.stabilize();
  c.tick_all(heartbeat_ticks(c));
  ASSERT_EQ(c.node(1).applied_index(), c.core(1).log().last_index());
  ASSERT_TRUE(c.node(1).compact(c.node(1).applied_index()));

  c.heal();
  c.tick_all(2 * heartbeat_ticks(c));
  EXPECT_EQ(c.core(3).role(), Role::kFollower);
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
  for (const std::string& s : c.node(3).state()) EXPECT_EQ(s.find("lost"), std::string::npos);
  for (const Entry& e : c.node(3).disk().entries) EXPECT_EQ(e.data.find("lost"), std::string::npos);
  expect_same_log_after_snapshot(c, 3, 1);
  c.expect_state_machine_safety();
}

// The Ready contract: the snapshot is handed out once, before everything else, and the
// committed entries (in the same Ready or a later one) continue right after its index.
TEST(InstallSnapshotTest, ReadySnapshotIsHandedOutOnceAndCommittedEntriesContinueAfterIt) {
  const std::vector<std::string> state{"a", "b", "c", "d", "e"};
  const std::string data = serialize_state(state);

  // Snapshot and entries after it in one Ready.
  {
    Cluster c;
    c.deliver(snapshot_chunk(1, 2, 2, 5, 1, 0, data, true));
    c.deliver(append_request(1, 2, 2, 5, 1, test::entries_with_terms({2, 2}, 6), 7));
    Ready rd = c.cycle(2);
    ASSERT_TRUE(rd.snapshot);
    EXPECT_EQ(rd.snapshot->index, 5u);
    EXPECT_EQ(rd.snapshot->term, 1u);
    EXPECT_EQ(*rd.snapshot->data, data);
    ASSERT_EQ(rd.entries.size(), 2u);
    EXPECT_EQ(rd.entries.front().index, 6u);
    EXPECT_TRUE(rd.committed.empty()) << "applied before this node's own write was durable";
    ASSERT_TRUE(rd.hard_state);
    EXPECT_EQ(rd.hard_state->commit, 7u);
    rd = c.cycle(2);  // the write is durable now: the entries are handed out to apply
    ASSERT_EQ(rd.committed.size(), 2u);
    EXPECT_EQ(rd.committed.front().index, 6u);
    EXPECT_EQ(rd.committed.back().index, 7u);
    EXPECT_FALSE(c.cycle(2).snapshot) << "the snapshot was handed out twice";
    EXPECT_FALSE(c.core(2).has_ready());
    EXPECT_EQ(c.node(2).installed_snapshots().size(), 1u);
    EXPECT_EQ(c.node(2).state(), (std::vector<std::string>{"a", "b", "c", "d", "e", "e6", "e7"}));
  }
  // Snapshot alone; its committed entries arrive in a later Ready.
  {
    Cluster c;
    c.deliver(snapshot_chunk(1, 2, 2, 5, 1, 0, data, true));
    Ready rd = c.cycle(2);
    ASSERT_TRUE(rd.snapshot);
    EXPECT_TRUE(rd.committed.empty());
    EXPECT_TRUE(rd.entries.empty());
    ASSERT_TRUE(rd.hard_state);
    EXPECT_EQ(rd.hard_state->commit, 5u);
    ASSERT_EQ(of_type(rd.messages_after_append, MessageType::kSnapshotResponse).size(), 1u);
    EXPECT_FALSE(c.core(2).has_ready());
    EXPECT_EQ(c.core(2).applied_index(), 5u);

    c.deliver(append_request(1, 2, 2, 5, 1, test::entries_with_terms({2}, 6), 6));
    rd = c.cycle(2);
    EXPECT_FALSE(rd.snapshot);
    EXPECT_TRUE(rd.committed.empty());
    rd = c.cycle(2);
    ASSERT_EQ(rd.committed.size(), 1u);
    EXPECT_EQ(rd.committed.front().index, 6u);
    EXPECT_EQ(c.node(2).installed_snapshots().size(), 1u);
    EXPECT_EQ(c.node(2).state().size(), 6u);
  }
}

// §7 and Figure 2 (persistent state): a node restarts from its snapshot plus the entries after
// it. It never applies an entry the snapshot covers, and as leader it sends that snapshot —
// the bytes it read back from disk — to a follower that lags behind it.
TEST(InstallSnapshotTest, RestartedNodeKeepsServingFromItsSnapshot) {
  ClusterOptions o = snapshot_options(kSmallChunk);
  o.tweak = [](Config& cfg) {
    cfg.snapshot_chunk_bytes = kSmallChunk;
    cfg.check_quorum = false;  // node 2 must vote for node 1 right after it restarts
  };
  Cluster c(o);
  const Index s = leave_3_behind_and_compact(c, 10);
  const std::vector<std::string> state = c.node(1).state();

  c.node(1).restart_from_snapshot();
  EXPECT_EQ(c.core(1).log().snapshot_index(), s);
  EXPECT_EQ(c.core(1).applied_index(), s);
  EXPECT_EQ(c.core(1).snapshot().index, s);
  ASSERT_TRUE(c.core(1).snapshot().data);
  const size_t applied_before = c.node(1).applied().size();
  c.process(1);
  ASSERT_GT(c.node(1).applied().size(), applied_before) << "entries after the snapshot";
  for (size_t i = applied_before; i < c.node(1).applied().size(); ++i) {
    EXPECT_GT(c.node(1).applied()[i].index, s) << "applied an entry the snapshot covers";
  }
  EXPECT_EQ(c.node(1).state(), state);

  c.drop_all();
  ASSERT_TRUE(c.elect(1));
  c.heal();
  c.stabilize();
  c.tick_all(heartbeat_ticks(c));
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(c.node(3).installed_snapshots()[0].index, s);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
  expect_same_log_after_snapshot(c, 3, 1);

  ASSERT_TRUE(c.core(1).propose("after restart").accepted);
  c.stabilize();
  c.tick_all(heartbeat_ticks(c));
  for (NodeId id : c.ids()) EXPECT_EQ(c.node(id).state(), c.node(1).state()) << "node " << id;
  c.expect_state_machine_safety();
}

// The same from a RestoredState built by hand: a node whose stable storage holds a snapshot
// at 5 and two entries after it leads, brings two empty followers up to date through the
// snapshot, and applies only entries 6 and up itself.
TEST(InstallSnapshotTest, LeaderRestoredFromSnapshotSendsItToFollowersWithEmptyLogs) {
  ClusterOptions o = snapshot_options(kSmallChunk);
  o.restored[1] = restored_with_snapshot(2, 5, 2, {2, 2}, 7);
  Cluster c(o);
  ASSERT_EQ(c.core(1).log().first_index(), 6u);
  ASSERT_EQ(c.core(1).commit_index(), 7u);
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.tick_all(heartbeat_ticks(c));

  const std::vector<std::string> expected{"s1", "s2", "s3", "s4", "s5", "e6", "e7", ""};
  EXPECT_EQ(c.node(1).state(), expected);
  for (const Entry& e : c.node(1).applied()) EXPECT_GT(e.index, 5u);
  for (NodeId id : {2, 3}) {
    ASSERT_EQ(c.node(id).installed_snapshots().size(), 1u) << "node " << id;
    EXPECT_EQ(c.node(id).installed_snapshots()[0].index, 5u);
    EXPECT_EQ(c.node(id).state(), expected) << "node " << id;
    expect_same_log_after_snapshot(c, id, 1);
  }
}

// RestoredState::applied may lag the snapshot (an application that rebuilt its state machine
// from the snapshot and kept no other record): everything up to the snapshot counts as
// applied anyway, and the first committed entries handed out are the ones right after it.
TEST(InstallSnapshotTest, NodeRestoredFromSnapshotNeverAppliesEntriesItCovers) {
  ClusterOptions o;
  o.restored[1] = restored_with_snapshot(2, 5, 2, {2, 2}, 7);
  o.restored[1].applied = 0;
  Cluster c(o);
  EXPECT_EQ(c.core(1).applied_index(), 5u);
  EXPECT_EQ(c.core(1).commit_index(), 7u);
  Ready rd = c.cycle(1);
  ASSERT_EQ(rd.committed.size(), 2u);
  EXPECT_EQ(rd.committed.front().index, 6u);
  EXPECT_FALSE(rd.snapshot) << "the restored snapshot is not the leader's to install";
  EXPECT_FALSE(c.core(1).compact(5, nullptr)) << "compacted again at the restored snapshot";
  EXPECT_TRUE(c.node(1).compact(6));
}

// §7: a leader may take a newer snapshot while it is still sending an older one. The transfer
// then starts over with the newer snapshot from offset 0, and the follower ends with the
// newer state, never a mix of the two.
TEST(InstallSnapshotTest, LeaderCompactingAgainDuringATransferRestartsItWithTheNewerSnapshot) {
  Cluster c(snapshot_options(kSmallChunk));
  const Index first = leave_3_behind_and_compact(c, 10);
  c.heal();
  for (int i = 0; i < heartbeat_ticks(c); ++i) c.tick(1);

  // Run the transfer until node 3 has acknowledged its second chunk; hold that answer.
  std::vector<Message> held;
  for (int i = 0; i < 1000 && held.empty() && !c.pending().empty(); ++i) {
    Message m = c.pending().front();
    c.pending().pop_front();
    if (m.type == MessageType::kSnapshotResponse && m.offset >= 2 * kSmallChunk) {
      held.push_back(m);
      break;
    }
    c.deliver(m);
    c.process_all();
  }
  ASSERT_EQ(held.size(), 1u);
  ASSERT_EQ(held[0].index, first);
  ASSERT_FALSE(held[0].done);

  // Meanwhile nodes 1 and 2 commit more, and node 1 compacts again.
  ASSERT_TRUE(c.core(1).propose(test::commands(6, "newer")).accepted);
  c.stabilize();
  const Index second = c.node(1).applied_index();
  ASSERT_EQ(second, c.core(1).log().last_index());
  ASSERT_TRUE(c.node(1).compact(second));
  ASSERT_GT(second, first);

  const size_t before = c.trace().size();
  c.pending().push_back(held[0]);
  c.stabilize();
  c.tick_all(heartbeat_ticks(c));

  auto chunks = delivered(c, MessageType::kSnapshot, 3, before);
  ASSERT_FALSE(chunks.empty());
  EXPECT_EQ(chunks.front().index, second);
  EXPECT_EQ(chunks.front().offset, 0u);
  for (const Message& m : chunks) EXPECT_EQ(m.index, second);
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(c.node(3).installed_snapshots()[0].index, second);
  EXPECT_EQ(*c.node(3).installed_snapshots()[0].data, *c.core(1).snapshot().data);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
  c.expect_state_machine_safety();
}

}  // namespace
}  // namespace nomad::raft
