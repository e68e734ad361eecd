// The leader's coordinator and attempts on a node that is no longer a member: a node removed
// (cluster remove-server) while an attempt was placed on it, before this leader started, so it
// was never among this leader's nodes. Its attempts must still be declared lost and retried,
// or their jobs would stay running forever.

#include <gtest/gtest.h>

#include <chrono>

#include "node/coordinator.h"
#include "support/job_commands.h"

namespace nomad::node {
namespace {

using jobs::testing::assign_cmd;
using jobs::testing::started_cmd;
using jobs::testing::submit_cmd;

constexpr int64_t kRemovedWall0 = 1'700'000'000'000;

Coordinator::Clock::time_point steady_at(int64_t ms) {
  return Coordinator::Clock::time_point{} + std::chrono::milliseconds(ms);
}

TEST(CoordinatorRemovedNode, AnAttemptOnANodeRemovedBeforeThisLeaderStartedIsDeclaredLost) {
  jobs::JobStore store;
  raft::Index index = 0;
  auto apply = [&](const nomad_lite::Command& c) {
    store.apply(raft::Entry{1, ++index, raft::EntryType::kNormal, c.SerializeAsString()});
    store.take_changes();
  };
  apply(submit_cmd("orphan"));
  apply(assign_cmd("orphan", 1, 2, kRemovedWall0 - 500));
  apply(started_cmd("orphan", 1, 2, kRemovedWall0 - 400));

  Coordinator::Options o;
  o.self = 1;
  o.nodes = {1, 3};  // node 2 was removed before this node started: it never knew it
  o.worker_timeout = std::chrono::milliseconds(5000);
  o.kill_grace = std::chrono::milliseconds(0);
  o.lost_drift = std::chrono::milliseconds(0);
  Coordinator coordinator(o);
  coordinator.become_leader(steady_at(0));

  auto lost_of = [](const std::vector<nomad_lite::Command>& commands) {
    std::vector<nomad_lite::JobFinished> out;
    for (const auto& c : commands) {
      for (const auto& f : c.updates().finished()) out.push_back(f);
    }
    return out;
  };
  EXPECT_TRUE(lost_of(coordinator.collect(store, steady_at(5000), kRemovedWall0 + 5000)).empty())
      << "not before the worker timeout";
  auto lost = lost_of(coordinator.collect(store, steady_at(5001), kRemovedWall0 + 5001));
  ASSERT_EQ(lost.size(), 1u) << "the attempt on the removed node is never declared lost";
  EXPECT_EQ(lost[0].job_id(), "orphan");
  EXPECT_EQ(lost[0].node_id(), 2u);
  EXPECT_EQ(lost[0].attempt(), 1u);
  EXPECT_EQ(lost[0].reason(), "lost");
}

}  // namespace
}  // namespace nomad::node
