// The InstallSnapshot transfer (§7 of the Raft paper): "the leader sends chunks of a snapshot
// to a follower in order", over a network that loses, duplicates and reorders messages. The
// receiver's rules, as numbered in Figure 13 of the paper:
//   1. Reply immediately if term < currentTerm
//   2. Create new snapshot file if first chunk (offset is 0)
//   3. Write data into snapshot file at given offset
//   4. Reply and wait for more data chunks if done is false

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <tuple>

#include "harness.h"
#include "snapshot_scenarios.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;
using test::delivered;
using test::expect_same_log_after_snapshot;
using test::heartbeat_ticks;
using test::kSmallChunk;
using test::leave_3_behind_and_compact;
using test::of_type;
using test::parse_state;
using test::pump;
using test::restored;
using test::restored_with_snapshot;
using test::serialize_state;
using test::snapshot_chunk;
using test::snapshot_options;
using test::snapshot_reply;

// §7: "the leader sends chunks of a snapshot to a follower in order"; rule 3: "Write data into
// snapshot file at given offset". A snapshot larger than snapshot_chunk_bytes goes in
// several chunks, each starting where the follower's last answer said it was.
TEST(SnapshotTransferTest, SnapshotLargerThanAChunkTravelsInChunksWithIncreasingOffsets) {
  Cluster c(snapshot_options(kSmallChunk));
  const Index s = leave_3_behind_and_compact(c, 10);
  const std::string& data = *c.core(1).snapshot().data;
  ASSERT_GT(data.size(), 3 * kSmallChunk);
  c.heal();
  c.tick_all(heartbeat_ticks(c));

  auto chunks = delivered(c, MessageType::kSnapshot, 3);
  ASSERT_EQ(chunks.size(), (data.size() + kSmallChunk - 1) / kSmallChunk);
  std::string assembled;
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].index, s);
    EXPECT_EQ(chunks[i].offset, i * kSmallChunk) << "chunk " << i;
    EXPECT_EQ(chunks[i].done, i + 1 == chunks.size()) << "chunk " << i;
    if (i + 1 < chunks.size()) {
      EXPECT_EQ(chunks[i].chunk.size(), kSmallChunk);
    }
    assembled += chunks[i].chunk;
  }
  EXPECT_EQ(assembled, data);

  auto answers = delivered(c, MessageType::kSnapshotResponse, 1);
  ASSERT_EQ(answers.size(), chunks.size());
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_FALSE(answers[i].reject);
    EXPECT_EQ(answers[i].offset, std::min((i + 1) * kSmallChunk, data.size()));
    EXPECT_EQ(answers[i].done, i + 1 == answers.size());
  }
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(*c.node(3).installed_snapshots()[0].data, data);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
}

// A lost chunk stalls the transfer (chunks are paced by answers) until the next heartbeat
// answer, which makes the leader send the chunk at the offset the follower last acknowledged.
TEST(SnapshotTransferTest, LostChunkIsResentAfterAHeartbeatResponseAndTheTransferCompletes) {
  Cluster c(snapshot_options(kSmallChunk));
  const Index s = leave_3_behind_and_compact(c, 10);
  c.heal();
  for (int i = 0; i < heartbeat_ticks(c); ++i) c.tick(1);

  std::optional<Message> lost;
  pump(c, [&](const Message& m) {
    if (!lost && m.type == MessageType::kSnapshot && m.offset >= 2 * kSmallChunk) {
      lost = m;
      return 0;
    }
    return 1;
  });
  ASSERT_TRUE(lost);
  EXPECT_TRUE(c.node(3).installed_snapshots().empty());
  EXPECT_EQ(c.core(1).progress().at(3).state, ReplicationState::kSnapshot);
  EXPECT_EQ(c.core(1).progress().at(3).snapshot_offset, lost->offset);

  const size_t before = c.trace().size();
  c.tick_all(heartbeat_ticks(c));
  auto resent = delivered(c, MessageType::kSnapshot, 3, before);
  ASSERT_FALSE(resent.empty());
  EXPECT_EQ(resent.front().offset, lost->offset);
  EXPECT_EQ(resent.front().chunk, lost->chunk);
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(c.node(3).installed_snapshots()[0].index, s);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
  expect_same_log_after_snapshot(c, 3, 1);
}

// The last answer ("installed") is lost: the leader re-sends the last chunk on the next
// heartbeat answer, and the follower, which already holds the snapshot, says so again instead
// of installing it twice.
TEST(SnapshotTransferTest, LostFinalAnswerIsRecoveredWithoutInstallingTwice) {
  Cluster c(snapshot_options(kSmallChunk));
  leave_3_behind_and_compact(c, 10);
  c.heal();
  for (int i = 0; i < heartbeat_ticks(c); ++i) c.tick(1);
  bool lost = false;
  pump(c, [&](const Message& m) {
    if (!lost && m.type == MessageType::kSnapshotResponse && m.done) {
      lost = true;
      return 0;
    }
    return 1;
  });
  ASSERT_TRUE(lost);
  EXPECT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(c.core(1).progress().at(3).state, ReplicationState::kSnapshot);

  c.tick_all(heartbeat_ticks(c));
  EXPECT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_NE(c.core(1).progress().at(3).state, ReplicationState::kSnapshot);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
  expect_same_log_after_snapshot(c, 3, 1);
}

// Rules 2-4 with a network that duplicates and reorders: a chunk that does not start where
// the follower's data ends — a duplicate, or one that overtook a lost predecessor, even the
// final one — is refused with the offset the follower holds, and never written; the
// assembled snapshot is exactly the leader's.
TEST(SnapshotTransferTest, DuplicatedOrOutOfOrderChunkIsRejectedWithTheOffsetHeld) {
  Cluster c(snapshot_options());
  std::vector<std::string> state;
  for (int i = 1; i <= 6; ++i) state.push_back("value-" + std::to_string(i));
  const std::string data = serialize_state(state);
  const size_t n = 8;
  ASSERT_GT(data.size(), 4 * n);
  auto chunk = [&](size_t offset) {
    size_t length = std::min(n, data.size() - offset);
    return snapshot_chunk(1, 2, 2, 6, 1, offset, data.substr(offset, length),
                          offset + length == data.size());
  };
  const size_t last_offset = (data.size() - 1) / n * n;

  Message r = snapshot_reply(c, chunk(0));
  EXPECT_FALSE(r.reject);
  EXPECT_EQ(r.index, 6u);
  EXPECT_EQ(r.offset, n);

  r = snapshot_reply(c, chunk(2 * n));  // chunk 1 was lost
  EXPECT_TRUE(r.reject);
  EXPECT_EQ(r.offset, n);
  r = snapshot_reply(c, chunk(last_offset));  // the final chunk, far too early
  EXPECT_TRUE(r.reject);
  EXPECT_EQ(r.offset, n);
  EXPECT_FALSE(r.done);
  EXPECT_TRUE(c.node(2).installed_snapshots().empty()) << "installed a truncated snapshot";

  r = snapshot_reply(c, chunk(n));
  EXPECT_FALSE(r.reject);
  EXPECT_EQ(r.offset, 2 * n);
  r = snapshot_reply(c, chunk(n));  // a duplicate
  EXPECT_TRUE(r.reject);
  EXPECT_EQ(r.offset, 2 * n);

  // A duplicate of the first chunk: whatever the follower makes of it, following its answers
  // must still assemble exactly the leader's bytes.
  r = snapshot_reply(c, chunk(0));
  for (int i = 0; !r.done && i < 100; ++i) r = snapshot_reply(c, chunk(r.offset));
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.reject);
  ASSERT_EQ(c.node(2).installed_snapshots().size(), 1u);
  EXPECT_EQ(*c.node(2).installed_snapshots()[0].data, data);
  EXPECT_EQ(c.node(2).state(), state);
  EXPECT_EQ(c.core(2).log().snapshot_index(), 6u);
  EXPECT_EQ(c.core(2).commit_index(), 6u);
}

// Rule 2: "Create new snapshot file if first chunk (offset is 0)". A new leader starts its
// transfer at offset 0 even when the follower holds part of the same snapshot (same index and
// term) from the previous leader; the bytes need not be the same (here: another encoding of
// the same state), so the follower starts over instead of splicing the two.
TEST(SnapshotTransferTest, FirstChunkFromANewLeaderStartsTheSnapshotOver) {
  ClusterOptions o;
  o.tweak = [](Config& cfg) { cfg.check_quorum = false; };
  Cluster c(o);
  const std::string old_bytes = serialize_state({"a", "b", "c"});  // "1:a1:b1:c"
  const std::string new_bytes = "01:a01:b01:c";                    // the same state
  ASSERT_EQ(parse_state(new_bytes), parse_state(old_bytes));

  Message r = snapshot_reply(c, snapshot_chunk(1, 3, 2, 3, 1, 0, old_bytes.substr(0, 4), false));
  ASSERT_EQ(r.offset, 4u);
  r = snapshot_reply(c, snapshot_chunk(2, 3, 3, 3, 1, 0, new_bytes.substr(0, 6), false));
  EXPECT_FALSE(r.reject);
  EXPECT_EQ(r.offset, 6u);
  r = snapshot_reply(c, snapshot_chunk(2, 3, 3, 3, 1, 6, new_bytes.substr(6), true));
  EXPECT_TRUE(r.done);
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(*c.node(3).installed_snapshots()[0].data, new_bytes);
  EXPECT_EQ(c.node(3).state(), (std::vector<std::string>{"a", "b", "c"}));
}

// The same through the leader: every chunk and every answer delivered twice.
TEST(SnapshotTransferTest, DuplicatedSnapshotTrafficDoesNotCorruptTheTransfer) {
  Cluster c(snapshot_options(kSmallChunk));
  leave_3_behind_and_compact(c, 10);
  c.heal();
  for (int i = 0; i < heartbeat_ticks(c); ++i) c.tick(1);
  std::set<std::tuple<MessageType, uint64_t, bool>> seen;
  pump(c, [&](const Message& m) {
    if (m.type != MessageType::kSnapshot && m.type != MessageType::kSnapshotResponse) return 1;
    // Each distinct chunk and answer twice (duplicating every copy would grow without end).
    return seen.insert({m.type, m.offset, m.reject}).second ? 2 : 1;
  });
  c.tick_all(heartbeat_ticks(c));
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(*c.node(3).installed_snapshots()[0].data, *c.core(1).snapshot().data);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
  expect_same_log_after_snapshot(c, 3, 1);
  c.expect_state_machine_safety();
}

// A follower that crashes in the middle of a transfer loses the partial snapshot (it was never
// made durable); it answers the next chunk with offset 0, and the leader starts over.
TEST(SnapshotTransferTest, FollowerRestartingMidTransferGetsTheSnapshotFromTheStart) {
  Cluster c(snapshot_options(kSmallChunk));
  leave_3_behind_and_compact(c, 10);
  c.heal();
  for (int i = 0; i < heartbeat_ticks(c); ++i) c.tick(1);
  bool restarted = false;
  pump(c, [&](const Message& m) {
    if (!restarted && m.type == MessageType::kSnapshot && m.offset >= 3 * kSmallChunk) {
      c.node(3).restart();
      restarted = true;
    }
    return 1;
  });
  ASSERT_TRUE(restarted);
  c.tick_all(heartbeat_ticks(c));
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(*c.node(3).installed_snapshots()[0].data, *c.core(1).snapshot().data);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
  bool restarted_from_zero = false;
  for (const Message& m : delivered(c, MessageType::kSnapshotResponse, 1)) {
    if (m.reject && m.offset == 0) restarted_from_zero = true;
  }
  EXPECT_TRUE(restarted_from_zero);
}

// Chunks are paced by the follower's answers: one in flight at a time. The heartbeat answer
// that re-sends a possibly lost chunk adds a second copy when the chunk was only slow, and
// the follower refuses that copy with the offset it holds; that refusal must not trigger yet
// another send, or every heartbeat during a long transfer adds a chunk to the flight for good
// and a large snapshot never arrives.
TEST(SnapshotTransferTest, HeartbeatsDuringASlowTransferDoNotMultiplyTheChunksInFlight) {
  ClusterOptions o;
  o.tweak = [](Config& cfg) {
    cfg.snapshot_chunk_bytes = 4;
    cfg.heartbeat_ticks = 1;  // a heartbeat every network hop: the transfer is slow
  };
  Cluster c(o);
  leave_3_behind_and_compact(c, 30);
  const size_t chunks = (c.core(1).snapshot().data->size() + 3) / 4;
  ASSERT_GT(chunks, 20u);
  c.heal();

  size_t most_in_flight = 0;
  for (int round = 0; round < 1000 && c.node(3).installed_snapshots().empty(); ++round) {
    c.tick(1);
    // One network hop: deliver what is pending now; answers wait for the next round.
    std::vector<Message> hop(c.pending().begin(), c.pending().end());
    c.drop_all();
    for (const Message& m : hop) c.deliver(m);
    c.process_all();
    size_t in_flight =
        of_type({c.pending().begin(), c.pending().end()}, MessageType::kSnapshot, 3).size();
    most_in_flight = std::max(most_in_flight, in_flight);
  }
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_LE(most_in_flight, 2u) << "chunks pile up in flight";
  EXPECT_LE(delivered(c, MessageType::kSnapshot, 3).size(), 3 * chunks);
  c.stabilize();
  c.tick_all(1);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
}

// ---- robustness ----------------------------------------------------------------------------

// step() refuses a kSnapshot no correct leader sends: one naming index 0 (there is nothing to
// snapshot), term 0 (no entry has it) or a last included term later than the message's term
// (no leader holds entries from its future). Refused messages change nothing.
TEST(SnapshotRobustnessTest, StepRefusesASnapshotChunkNamingAnImpossibleSnapshot) {
  ClusterOptions o;
  o.restored[2] = restored(3, {1, 2, 3}, 2);
  Cluster c(o);
  c.process(2);
  const std::string data = serialize_state({"a", "b", "c", "d"});
  struct Case {
    const char* what;
    Message m;
  };
  const Case cases[] = {
      {"index 0", snapshot_chunk(1, 2, 4, 0, 3, 0, data, true)},
      {"log_term 0", snapshot_chunk(1, 2, 4, 4, 0, 0, data, true)},
      {"log_term after the message term", snapshot_chunk(1, 2, 4, 4, 5, 0, data, true)},
  };
  for (const Case& k : cases) {
    std::string why;
    EXPECT_FALSE(c.core(2).step(k.m, &why)) << k.what;
    EXPECT_FALSE(why.empty()) << k.what;
    EXPECT_FALSE(c.core(2).step(k.m)) << k.what << " (without a reason pointer)";
    EXPECT_TRUE(c.process(2).empty()) << k.what << ": answered";
    EXPECT_EQ(c.core(2).term(), 3u) << k.what;
    EXPECT_EQ(c.core(2).leader_id(), kNoNode) << k.what;
    EXPECT_EQ(c.core(2).log().last_index(), 3u) << k.what;
    EXPECT_EQ(c.core(2).commit_index(), 2u) << k.what;
    EXPECT_TRUE(c.node(2).installed_snapshots().empty()) << k.what;
  }
}

// Rule 1: "Reply immediately if term < currentTerm". A chunk from a deposed leader is not
// written; the answer carries the current term so that leader steps down.
TEST(SnapshotRobustnessTest, SnapshotFromAStaleTermIsAnsweredWithTheCurrentTermAndIgnored) {
  ClusterOptions o;
  o.restored[2] = restored(5, {1, 2}, 1);
  Cluster c(o);
  c.process(2);
  ASSERT_TRUE(
      c.deliver(snapshot_chunk(1, 2, 4, 4, 3, 0, serialize_state({"a", "b", "c", "d"}), true)));
  auto replies = c.process(2);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies.front().term, 5u);
  EXPECT_NE(replies.front().type, MessageType::kSnapshotResponse);
  EXPECT_TRUE(c.node(2).installed_snapshots().empty());
  EXPECT_EQ(c.core(2).log().last_index(), 2u);
  EXPECT_EQ(c.core(2).commit_index(), 1u);
}

// The leader's side: an answer claiming more bytes than the snapshot has, or speaking of
// another snapshot, is ignored — no crash, no chunk sent from beyond the data, no progress
// change — and the real transfer still completes.
TEST(SnapshotRobustnessTest, LeaderIgnoresSnapshotResponsesBeyondTheSnapshotOrForAnotherIndex) {
  Cluster c(snapshot_options(kSmallChunk));
  const Index s = leave_3_behind_and_compact(c, 10);
  const uint64_t size = c.core(1).snapshot().data->size();
  c.heal();
  for (int i = 0; i < heartbeat_ticks(c); ++i) c.tick(1);
  // Deliver until the leader is sending the snapshot, then stop the network.
  for (int i = 0; i < 100 && c.core(1).progress().at(3).state != ReplicationState::kSnapshot; ++i) {
    ASSERT_FALSE(c.pending().empty());
    Message m = c.pending().front();
    c.pending().pop_front();
    c.deliver(m);
    c.process_all();
  }
  ASSERT_EQ(c.core(1).progress().at(3).state, ReplicationState::kSnapshot);
  const Progress before = c.core(1).progress().at(3);
  const Term t = c.core(1).term();

  struct Case {
    const char* what;
    Index index;
    uint64_t offset;
    bool reject;
    bool done;
  };
  const Case cases[] = {
      {"offset beyond the snapshot", s, size + 1, false, false},
      {"rejection with an offset beyond the snapshot", s, size + 100, true, false},
      {"offset at the end of the address space", s, UINT64_MAX, false, false},
      {"another snapshot index, done", s + 1, 0, false, true},
      {"an older snapshot index, done", s - 1, 0, false, true},
      {"another snapshot index, progress", s - 1, kSmallChunk, false, false},
  };
  for (const Case& k : cases) {
    Message r = test::message(MessageType::kSnapshotResponse, 3, 1, t);
    r.index = k.index;
    r.offset = k.offset;
    r.reject = k.reject;
    r.done = k.done;
    EXPECT_TRUE(c.core(1).step(r)) << k.what;
    for (const Message& m : c.process(1)) {
      if (m.type != MessageType::kSnapshot) continue;
      EXPECT_LE(m.offset + m.chunk.size(), size) << k.what;
    }
    const Progress& p = c.core(1).progress().at(3);
    EXPECT_EQ(p.state, ReplicationState::kSnapshot) << k.what;
    EXPECT_EQ(p.match, before.match) << k.what;
    EXPECT_EQ(p.snapshot_index, s) << k.what;
    EXPECT_LE(p.snapshot_offset, size) << k.what;
  }
  EXPECT_EQ(c.core(1).role(), Role::kLeader);

  // A snapshot answer reaching a follower is ignored too.
  Message stray = test::message(MessageType::kSnapshotResponse, 1, 2, t);
  stray.index = s;
  stray.offset = size + 1;
  EXPECT_TRUE(c.core(2).step(stray));
  EXPECT_TRUE(c.process(2).empty());

  c.stabilize();
  c.tick_all(2 * heartbeat_ticks(c));
  ASSERT_EQ(c.node(3).installed_snapshots().size(), 1u);
  EXPECT_EQ(c.node(3).state(), c.node(1).state());
}

// A leader that restored a snapshot without its bytes cannot send it: it must send nothing
// rather than an empty snapshot that would wipe a follower's state machine.
TEST(SnapshotRobustnessTest, LeaderWithoutTheSnapshotsBytesSendsNoSnapshot) {
  ClusterOptions o;
  o.restored[1] = restored_with_snapshot(2, 5, 2, {2}, 6);
  o.restored[1].snapshot_data = nullptr;
  Cluster c(o);
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  c.tick_all(3 * heartbeat_ticks(c));
  EXPECT_EQ(c.core(1).role(), Role::kLeader);
  for (const Message& m : c.trace()) EXPECT_NE(m.type, MessageType::kSnapshot);
  for (NodeId id : {2, 3}) {
    EXPECT_TRUE(c.node(id).installed_snapshots().empty()) << "node " << id;
    EXPECT_EQ(c.core(1).progress().at(id).state, ReplicationState::kSnapshot) << "node " << id;
    EXPECT_EQ(c.core(id).log().last_index(), 0u) << "node " << id;
  }
}

}  // namespace
}  // namespace nomad::raft
