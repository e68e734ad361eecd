// Proposals on an in-process node: how each one ends, and that the count of pending
// proposals (the --max-pending backpressure) comes back to zero whichever way they end.

#include <gtest/gtest.h>

#include <vector>

#include "in_process_cluster.h"

namespace nomad::node::testing {
namespace {

using Code = ProposeOutcome::Code;

TEST(NodeProposals, APendingProposalGetsRetryWhenItsLeaderLosesLeadership) {
  InProcessCluster cluster(3);
  cluster.start_all();
  const raft::NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  // Cut off from the others, the leader appends the entry but can never commit it; it steps
  // down once it hears from no majority (check-quorum), or the others elect another.
  cluster.network().isolate(leader);
  auto answer = propose(cluster.node(leader), submit_command("job-cut-off"));
  ASSERT_TRUE(answered(answer)) << "the proposal waits forever after the role change";
  EXPECT_EQ(answer.get().code, Code::kRetry);
  EXPECT_EQ(cluster.node(leader).pending_proposals(), 0u);
  cluster.network().heal();
  const raft::NodeId next = cluster.wait_for_leader();
  ASSERT_NE(next, raft::kNoNode);
  // The answer was honest: it may or may not apply, and the cluster goes on taking writes.
  auto after = propose(cluster.node(next), submit_command("job-after"));
  ASSERT_TRUE(answered(after));
  EXPECT_EQ(after.get().code, Code::kApplied);
}

TEST(NodeProposals, BackpressureAtMaxPendingAndTheCountReturnsToZeroAfterCommits) {
  constexpr size_t kMax = 8;
  InProcessCluster cluster(1, [](ServerConfig& c) { c.max_pending_proposals = kMax; });
  cluster.start_all();
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  Node& node = cluster.node(1);
  // The first proposal's write blocks in sync, so the loop takes nothing more meanwhile.
  cluster.log(1).hold_syncs();
  std::vector<std::shared_future<ProposeOutcome>> answers;
  answers.push_back(propose(node, submit_command("job-0")));
  ASSERT_TRUE(eventually([&] { return cluster.log(1).sync_blocked(); }));
  for (size_t i = 1; i < kMax; ++i) {
    answers.push_back(propose(node, submit_command("job-" + std::to_string(i))));
  }
  EXPECT_EQ(node.pending_proposals(), kMax);
  auto refused = propose(node, submit_command("job-too-many"));
  ASSERT_TRUE(answered(refused, std::chrono::milliseconds(0))) << "refused at once";
  EXPECT_EQ(refused.get().code, Code::kOverloaded);
  for (const auto& a : answers) {
    EXPECT_FALSE(answered(a, std::chrono::milliseconds(0))) << "nothing is durable yet";
  }

  cluster.log(1).release_syncs();
  for (const auto& a : answers) {
    ASSERT_TRUE(answered(a));
    EXPECT_EQ(a.get().code, Code::kApplied);
  }
  ASSERT_TRUE(eventually([&] { return node.pending_proposals() == 0; }))
      << node.pending_proposals() << " still counted";
  auto again = propose(node, submit_command("job-again"));
  ASSERT_TRUE(answered(again));
  EXPECT_EQ(again.get().code, Code::kApplied) << "accepts again once drained";
  EXPECT_EQ(node.pending_proposals(), 0u);
}

TEST(NodeProposals, EveryProposalIsAnsweredOnceAtShutdownAndTheCountReturnsToZero) {
  InProcessCluster cluster(1);
  cluster.start_all();
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  Node& node = cluster.node(1);
  cluster.log(1).hold_syncs();
  std::vector<std::shared_future<ProposeOutcome>> answers;
  answers.push_back(propose(node, submit_command("job-0")));
  ASSERT_TRUE(eventually([&] { return cluster.log(1).sync_blocked(); }));
  for (int i = 1; i < 5; ++i) {
    answers.push_back(propose(node, submit_command("job-" + std::to_string(i))));
  }
  // stop() waits for the loop, which is in the held sync. Proposals go on until one is refused
  // for the shutdown: stop() has begun then, and the sync is released.
  std::thread stopper([&] { node.stop(); });
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline && answers.size() < 100'000) {
    answers.push_back(propose(node, submit_command("job-" + std::to_string(answers.size()))));
    if (answered(answers.back(), std::chrono::milliseconds(0))) break;
  }
  EXPECT_EQ(answers.back().get().code, Code::kShutdown);
  cluster.log(1).release_syncs();
  stopper.join();
  size_t applied = 0, shut_down = 0;
  for (const auto& a : answers) {
    ASSERT_TRUE(answered(a, std::chrono::milliseconds(0))) << "stop() answers every proposal";
    if (a.get().code == Code::kApplied) ++applied;
    if (a.get().code == Code::kShutdown) ++shut_down;
  }
  EXPECT_EQ(applied + shut_down, answers.size());
  EXPECT_GE(shut_down, answers.size() - 1) << "only the entry in the held sync may apply";
  EXPECT_EQ(node.pending_proposals(), 0u);
  auto late = propose(node, submit_command("job-late"));
  ASSERT_TRUE(answered(late, std::chrono::milliseconds(0)));
  EXPECT_EQ(late.get().code, Code::kShutdown);
  EXPECT_EQ(node.pending_proposals(), 0u);
}

TEST(NodeProposals, AProposalAwaitingItsCommitAtShutdownIsAnsweredAndUncounted) {
  InProcessCluster cluster(3);
  cluster.start_all();
  const raft::NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  // Neither follower can make the entry durable, so it never commits.
  for (raft::NodeId id = 1; id <= 3; ++id) {
    if (id != leader) cluster.log(id).hold_syncs();
  }
  const raft::Index index = cluster.log(leader).durable_last_index() + 1;
  auto answer = propose(cluster.node(leader), submit_command("job-uncommitted"));
  ASSERT_TRUE(eventually([&] { return cluster.log(leader).durable_last_index() >= index; }));
  EXPECT_LE(cluster.node(leader).pending_proposals(), 1u);
  cluster.node(leader).stop();
  ASSERT_TRUE(answered(answer, std::chrono::milliseconds(0)));
  // kRetry when check-quorum made it step down first.
  EXPECT_TRUE(answer.get().code == Code::kShutdown || answer.get().code == Code::kRetry)
      << static_cast<int>(answer.get().code);
  EXPECT_EQ(cluster.node(leader).pending_proposals(), 0u);
}

TEST(NodeProposals, AFullDiskRefusesProposalsUntilSpaceIsBackAndCountsNone) {
  InProcessCluster cluster(1);
  cluster.start_all();
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  Node& node = cluster.node(1);
  cluster.log(1).set_disk_full(true);
  // The first write that fails takes the node out: what was waiting gets kRetry (it stepped
  // down) and what comes next kDiskFull, with a message saying what to do.
  ProposeOutcome out;
  ASSERT_TRUE(eventually([&] {
    auto answer = propose(node, submit_command("job-full"));
    if (!answered(answer)) return false;
    out = answer.get();
    return out.code == Code::kDiskFull;
  })) << "last answer "
      << static_cast<int>(out.code);
  EXPECT_NE(out.detail.find("free space"), std::string::npos) << out.detail;
  EXPECT_EQ(node.pending_proposals(), 0u);

  cluster.log(1).set_disk_full(false);
  ASSERT_TRUE(eventually([&] {
    auto answer = propose(node, submit_command("job-space-again"));
    return answered(answer) && answer.get().code == Code::kApplied;
  })) << "the node resumes by itself once space is freed";
  EXPECT_EQ(node.pending_proposals(), 0u);
}

TEST(NodeProposals, AFollowerRefusesWithTheLeadersAddressAndCountsNothing) {
  InProcessCluster cluster(3);
  cluster.start_all();
  const raft::NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  const raft::NodeId follower = leader == 1 ? 2 : 1;
  auto answer = propose(cluster.node(follower), submit_command("job-x"));
  ASSERT_TRUE(answered(answer));
  EXPECT_EQ(answer.get().code, Code::kNotLeader);
  EXPECT_EQ(answer.get().leader_id, leader);
  EXPECT_EQ(answer.get().leader_address, "127.0.0.1:" + std::to_string(leader));
  EXPECT_EQ(cluster.node(follower).pending_proposals(), 0u);
}

}  // namespace
}  // namespace nomad::node::testing
