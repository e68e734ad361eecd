// Node::read_barrier (read-your-writes and ReadIndex reads) and Node::transfer_leadership.

#include <gtest/gtest.h>

#include "in_process_cluster.h"

namespace nomad::node::testing {
namespace {

struct ReadAnswer {
  Status status;
  raft::Index applied = 0;
};

std::shared_future<ReadAnswer> read_barrier(Node& node, raft::Index min_index, bool linearizable,
                                            std::chrono::milliseconds limit = kPatience) {
  auto promise = std::make_shared<std::promise<ReadAnswer>>();
  auto answer = promise->get_future().share();
  node.read_barrier(min_index, linearizable, std::chrono::steady_clock::now() + limit,
                    [promise](Status s, raft::Index applied) {
                      promise->set_value({s, applied});
                    });
  return answer;
}

std::shared_future<TransferOutcome> transfer(Node& node, raft::NodeId target) {
  auto promise = std::make_shared<std::promise<TransferOutcome>>();
  auto answer = promise->get_future().share();
  node.transfer_leadership(target, std::chrono::steady_clock::now() + std::chrono::seconds(5),
                           [promise](TransferOutcome o) { promise->set_value(std::move(o)); });
  return answer;
}

bool has_job(Node& node, const std::string& id) {
  return node.read_jobs([&](const jobs::JobStore& s) { return s.find(id) != nullptr; });
}

class NodeReads : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_all();
    leader_ = cluster_.wait_for_leader();
    ASSERT_NE(leader_, raft::kNoNode);
    follower_ = leader_ == 1 ? 2 : 1;
  }
  // Commits a job through the leader; returns the index it committed at.
  raft::Index commit(const std::string& id) {
    auto answer = propose(cluster_.node(leader_), submit_command(id));
    EXPECT_TRUE(answered(answer));
    EXPECT_EQ(answer.get().code, ProposeOutcome::Code::kApplied);
    return answer.get().index;
  }

  InProcessCluster cluster_{3};
  raft::NodeId leader_ = raft::kNoNode;
  raft::NodeId follower_ = raft::kNoNode;
};

TEST_F(NodeReads, AWriteAnswersWithItsIndexAndAFollowerWaitsForIt) {
  raft::Index index = commit("job-ryw");
  ASSERT_GT(index, 0u);
  auto answer = read_barrier(cluster_.node(follower_), index, /*linearizable=*/false);
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  ASSERT_TRUE(answer.get().status) << answer.get().status.message();
  EXPECT_GE(answer.get().applied, index);
  EXPECT_TRUE(has_job(cluster_.node(follower_), "job-ryw"));
}

TEST_F(NodeReads, AConsistentReadOnAFollowerSeesTheWriteJustAcknowledged) {
  for (int i = 0; i < 20; ++i) {
    std::string id = "job-lin-" + std::to_string(i);
    commit(id);
    auto answer = read_barrier(cluster_.node(follower_), 0, /*linearizable=*/true);
    ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
    ASSERT_TRUE(answer.get().status) << answer.get().status.message();
    EXPECT_TRUE(has_job(cluster_.node(follower_), id)) << "round " << i;
  }
}

TEST_F(NodeReads, AnIndexThisNodeCannotReachFailsAtTheDeadlineNamingIt) {
  raft::Index index = commit("job-far");
  const auto asked = std::chrono::steady_clock::now();
  auto answer =
      read_barrier(cluster_.node(follower_), index + 1000, false, std::chrono::milliseconds(200));
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - asked, std::chrono::milliseconds(200));
  ASSERT_FALSE(answer.get().status);
  EXPECT_NE(answer.get().status.message().find(std::to_string(index + 1000)), std::string::npos)
      << answer.get().status.message();
}

TEST_F(NodeReads, ALeaderWithoutItsMajorityCannotServeAConsistentRead) {
  for (raft::NodeId id = 1; id <= 3; ++id) {
    if (id != leader_) cluster_.stop(id);
  }
  auto answer = read_barrier(cluster_.node(leader_), 0, true, std::chrono::milliseconds(300));
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_FALSE(answer.get().status);
}

TEST_F(NodeReads, TransferMovesLeadershipToTheTargetAndAnswersWithIt) {
  const raft::NodeId target = follower_;
  auto answer = transfer(cluster_.node(leader_), target);
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(answer.get().code, TransferOutcome::Code::kDone) << answer.get().detail;
  EXPECT_EQ(answer.get().leader, target);
  // Every node's published view (at most a tick old) comes to name it.
  EXPECT_TRUE(eventually([&] { return cluster_.wait_for_leader() == target; }));
}

TEST_F(NodeReads, TransferWithoutATargetPicksAFollower) {
  auto answer = transfer(cluster_.node(leader_), raft::kNoNode);
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(answer.get().code, TransferOutcome::Code::kDone) << answer.get().detail;
  EXPECT_NE(answer.get().leader, leader_);
  EXPECT_NE(answer.get().leader, raft::kNoNode);
}

TEST_F(NodeReads, TransferGoesToAVoterThatJoinedAfterTheBootstrap) {
  // The voters are the current configuration's, not the bootstrap --peers.
  cluster_.add_joining(4);
  cluster_.start(4);
  auto added = std::make_shared<std::promise<ProposeOutcome>>();
  auto answer = added->get_future();
  cluster_.node(leader_).change_membership(
      {.kind = raft::ConfChange::Kind::kAddLearner, .id = 4, .address = "127.0.0.1:4"},
      [added](ProposeOutcome o) { added->set_value(std::move(o)); });
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  ASSERT_EQ(answer.get().code, ProposeOutcome::Code::kApplied);
  ASSERT_TRUE(eventually([&] {
    // Promoted by the leader once it caught up.
    return cluster_.node(leader_).membership_view().membership.is_voter(4);
  }));
  auto moved = transfer(cluster_.node(leader_), 4);
  ASSERT_EQ(moved.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(moved.get().code, TransferOutcome::Code::kDone) << moved.get().detail;
  EXPECT_EQ(moved.get().leader, 4u);
}

TEST_F(NodeReads, TransferToANonVoterOrFromAFollowerIsRefused) {
  auto bad = transfer(cluster_.node(leader_), 9);
  ASSERT_EQ(bad.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(bad.get().code, TransferOutcome::Code::kInvalidTarget);
  EXPECT_NE(bad.get().detail.find("9"), std::string::npos) << bad.get().detail;
  auto follower = transfer(cluster_.node(follower_), leader_);
  ASSERT_EQ(follower.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(follower.get().code, TransferOutcome::Code::kNotLeader);
  EXPECT_EQ(follower.get().leader, leader_);
}

TEST_F(NodeReads, TransferToAStoppedNodeIsRefusedAsUnreachable) {
  const raft::NodeId stopped = follower_;
  cluster_.stop(stopped);
  // Refused once the leader has not heard from it for over a second.
  ASSERT_TRUE(eventually(
      [&] {
        for (const PeerView& p : cluster_.node(leader_).cluster_view().nodes) {
          if (p.id == stopped) return p.last_contact_ms > 1100;
        }
        return false;
      },
      std::chrono::seconds(5)));
  auto answer = transfer(cluster_.node(leader_), stopped);
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(answer.get().code, TransferOutcome::Code::kUnreachable) << answer.get().detail;
  EXPECT_EQ(cluster_.node(leader_).leader_id(), leader_) << "it still leads";
}

// A follower cut off while the leader compacts its log catches up by a snapshot. A read waiting
// for an index the snapshot covers is answered only once the job store holds the snapshot: the
// core counts the snapshot as applied when its last chunk arrives, a Ready before the store
// takes it.
TEST(NodeReadsSnapshot, AReadTheSnapshotCoversSeesTheSnapshotsJobs) {
  InProcessCluster cluster(3, [](ServerConfig& c) { c.snapshot_entries = 4; });
  cluster.start_all();
  const raft::NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  const raft::NodeId behind = leader == 3 ? 2 : 3;
  cluster.network().isolate(behind);
  raft::Index wanted = 0;
  // Snapshots come once as many entries as there are jobs were applied since the last one.
  for (int i = 0; i < 80; ++i) {
    auto answer = propose(cluster.node(leader), submit_command("job-" + std::to_string(i)));
    ASSERT_TRUE(answered(answer));
    ASSERT_EQ(answer.get().code, ProposeOutcome::Code::kApplied);
    if (i == 10) wanted = answer.get().index;
  }
  ASSERT_TRUE(eventually([&] { return cluster.log(leader).released_to() > wanted; }))
      << "the leader compacted past the index the read waits for: released to "
      << cluster.log(leader).released_to() << ", wanted " << wanted << ", snapshot "
      << cluster.snapshots(leader).durable_index();

  // Whether the job is there is looked at when the read is released, on the loop thread.
  auto seen = std::make_shared<std::promise<bool>>();
  auto answer = seen->get_future();
  Node& node = cluster.node(behind);
  node.read_barrier(
      wanted, /*linearizable=*/false, std::chrono::steady_clock::now() + std::chrono::seconds(5),
      [seen, &node](Status s, raft::Index) { seen->set_value(s && has_job(node, "job-10")); });
  cluster.network().heal();
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(answer.get()) << "the read was released before the job store took the snapshot";
}

}  // namespace
}  // namespace nomad::node::testing
