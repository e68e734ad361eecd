#pragma once

// Scenarios shared by the InstallSnapshot tests (install_snapshot_test.cc,
// snapshot_transfer_test.cc): a follower left behind a leader that compacted its log, and a
// network the test drives one message at a time.

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "harness.h"

namespace nomad::raft::test {

// A chunk size that splits the scenarios' snapshots (~100 bytes) into several chunks.
inline constexpr size_t kSmallChunk = 16;

inline ClusterOptions snapshot_options(size_t chunk_bytes = size_t{1} << 20) {
  ClusterOptions o;
  o.tweak = [=](Config& cfg) { cfg.snapshot_chunk_bytes = chunk_bytes; };
  return o;
}

inline int heartbeat_ticks(Cluster& c) { return c.core(1).config().heartbeat_ticks; }

// Node 1 leads; node 3 is cut off while `count` commands commit on nodes 1 and 2; then node 1
// compacts its log up to two entries before its end, so the entries node 3 needs next are
// gone while some remain to follow the snapshot. Returns the snapshot index.
inline Index leave_3_behind_and_compact(Cluster& c, size_t count,
                                        const std::string& prefix = "cmd") {
  if (!c.elect(1)) {
    ADD_FAILURE() << "node 1 was not elected";
    return 0;
  }
  c.stabilize();
  c.isolate(3);
  if (!c.core(1).propose(commands(count, prefix)).accepted) ADD_FAILURE() << "refused";
  c.stabilize();
  c.tick_all(heartbeat_ticks(c));
  const Index last = c.core(1).log().last_index();
  EXPECT_EQ(c.core(2).commit_index(), last);
  EXPECT_EQ(c.node(1).applied_index(), last);
  const Index at = last - 2;
  EXPECT_LT(c.core(3).log().last_index(), at) << "node 3 holds the snapshot's entries";
  EXPECT_TRUE(c.node(1).compact(at));
  return at;
}

// Delivers the pending messages one at a time, oldest first, processing every node after
// each, until the network is quiet. `copies` says how often each message is delivered
// (0 loses it, 2 duplicates it).
inline void pump(Cluster& c, const std::function<int(const Message&)>& copies) {
  for (int i = 0; !c.pending().empty(); ++i) {
    if (i == 10000) {
      ADD_FAILURE() << "the network never went quiet";
      return;
    }
    Message m = c.pending().front();
    c.pending().pop_front();
    if (!c.connected(m.from, m.to)) continue;
    for (int k = copies(m); k > 0; --k) c.deliver(m);
    c.process_all();
  }
}

// The messages of `type` to `to` delivered so far, from position `from` of the trace on.
inline std::vector<Message> delivered(const Cluster& c, MessageType type, NodeId to,
                                      size_t from = 0) {
  std::vector<Message> out;
  for (size_t i = from; i < c.trace().size(); ++i) {
    const Message& m = c.trace()[i];
    if (m.type == type && m.to == to) out.push_back(m);
  }
  return out;
}

// The follower's log ends where the leader's does, with the same entries where both hold
// them (each may have compacted a different prefix).
inline void expect_same_log_after_snapshot(Cluster& c, NodeId follower, NodeId leader) {
  const RaftLog& f = c.core(follower).log();
  const RaftLog& l = c.core(leader).log();
  EXPECT_EQ(f.last_index(), l.last_index());
  for (Index i = std::max(f.first_index(), l.first_index()); i <= f.last_index(); ++i) {
    EXPECT_EQ(f.at(i), l.at(i)) << "index " << i;
  }
}

// Steps `m` into node `m.to` and returns its single kSnapshotResponse.
inline Message snapshot_reply(Cluster& c, const Message& m) {
  EXPECT_TRUE(c.deliver(m));
  auto replies = of_type(c.process(m.to), MessageType::kSnapshotResponse, m.from);
  EXPECT_EQ(replies.size(), 1u);
  return replies.empty() ? Message{} : replies.front();
}

}  // namespace nomad::raft::test
