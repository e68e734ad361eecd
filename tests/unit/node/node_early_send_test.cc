// A leader's appends leave before its own write of them is durable (Raft thesis 10.2.1): the
// followers can persist in parallel with the leader. What depends on the leader's write (its
// own vote towards the commit) waits for it.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "in_process_cluster.h"

namespace nomad::node::testing {
namespace {

TEST(NodeEarlySend, TheLeadersAppendLeavesBeforeItsOwnSyncReturns) {
  std::mutex mu;
  raft::NodeId leader = raft::kNoNode;
  raft::Index wanted = 0;  // the proposal's index, once known (0: none yet)
  bool sync_held_at_send = false;
  bool seen = false;

  InProcessCluster cluster(3);
  cluster.start_all();
  leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  MemoryLogStore& leader_log = cluster.log(leader);
  // Wait until the leader's own entries are all durable, then hold its next sync.
  ASSERT_TRUE(eventually([&] { return leader_log.syncs() > 0 && !leader_log.sync_blocked(); }));
  wanted = leader_log.durable_last_index() + 1;
  cluster.network().observe([&](const raft::Message& m) {
    std::lock_guard lock(mu);
    if (m.from != leader || m.type != raft::MessageType::kAppend || seen) return;
    for (const auto& e : m.entries) {
      if (e.index == wanted && !e.data.empty()) {
        seen = true;
        sync_held_at_send = leader_log.sync_blocked() || leader_log.durable_last_index() < wanted;
      }
    }
  });
  leader_log.hold_syncs();
  auto answer = propose(cluster.node(leader), submit_command("job-early"));
  const bool sent_while_held = eventually([&] {
    std::lock_guard lock(mu);
    return seen;
  });
  // The followers have it; the leader's own copy is not durable, so the entry cannot be
  // counted on it yet. With two followers it still commits (they are a majority).
  leader_log.release_syncs();
  ASSERT_TRUE(sent_while_held) << "no append left the leader while its sync was held";
  EXPECT_TRUE(sync_held_at_send);
  ASSERT_TRUE(answered(answer));
  EXPECT_EQ(answer.get().code, ProposeOutcome::Code::kApplied);
  cluster.network().observe({});
}

TEST(NodeEarlySend, AFollowerAcknowledgesOnlyWhatItHasSynced) {
  std::mutex mu;
  raft::NodeId follower = raft::kNoNode;
  bool acked_before_sync = false;
  bool acked = false;

  InProcessCluster cluster(3);
  cluster.start_all();
  const raft::NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  follower = leader == 1 ? 2 : 1;
  MemoryLogStore& follower_log = cluster.log(follower);
  ASSERT_TRUE(eventually([&] { return !follower_log.sync_blocked(); }));
  const raft::Index wanted = cluster.log(leader).durable_last_index() + 1;
  cluster.network().observe([&](const raft::Message& m) {
    std::lock_guard lock(mu);
    if (m.from != follower || m.type != raft::MessageType::kAppendResponse || m.reject) return;
    if (m.index < wanted) return;
    acked = true;
    if (follower_log.durable_last_index() < m.index) acked_before_sync = true;
  });
  follower_log.hold_syncs();
  auto answer = propose(cluster.node(leader), submit_command("job-acked"));
  ASSERT_TRUE(eventually([&] { return follower_log.sync_blocked(); }));
  // The other follower and the leader commit it; this one says nothing until its sync returns.
  ASSERT_TRUE(answered(answer));
  {
    std::lock_guard lock(mu);
    EXPECT_FALSE(acked) << "acknowledged an entry whose write was still held";
  }
  follower_log.release_syncs();
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return acked;
  }));
  EXPECT_FALSE(acked_before_sync);
  cluster.network().observe({});
}

}  // namespace
}  // namespace nomad::node::testing
