// A node restarted from its in-memory log store: what it acknowledged survives, what it had
// not synced is lost, and the cluster carries on.

#include <gtest/gtest.h>

#include "in_process_cluster.h"

namespace nomad::node::testing {
namespace {

size_t jobs_found(Node& node, const std::vector<std::string>& ids) {
  return node.read_jobs([&](const jobs::JobStore& s) {
    size_t n = 0;
    for (const auto& id : ids) n += s.find(id) != nullptr;
    return n;
  });
}

TEST(MemoryLogStore, ACrashLosesWhatWasNotSynced) {
  MemoryLogStore store;
  storage::WalContents contents;
  ASSERT_TRUE(store.recover(0, &contents).is_ok());
  ASSERT_TRUE(store.write(raft::HardState{.term = 1}, {{.term = 1, .index = 1}}).is_ok());
  ASSERT_TRUE(store.sync().is_ok());
  ASSERT_TRUE(store.write(raft::HardState{.term = 2}, {{.term = 2, .index = 2}}).is_ok());
  store.crash();
  ASSERT_TRUE(store.recover(0, &contents).is_ok());
  EXPECT_EQ(contents.hard_state.term, 1u);
  ASSERT_EQ(contents.entries.size(), 1u);
  EXPECT_EQ(contents.entries[0].index, 1u);
}

TEST(NodeRestart, EveryAcknowledgedJobSurvivesACrashOfTheWholeCluster) {
  InProcessCluster cluster(3);
  cluster.start_all();
  raft::NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 20; ++i) {
    std::string id = "job-" + std::to_string(i);
    auto answer = propose(cluster.node(leader), submit_command(id));
    ASSERT_TRUE(answered(answer));
    if (answer.get().code == ProposeOutcome::Code::kApplied) acknowledged.push_back(id);
  }
  ASSERT_FALSE(acknowledged.empty());
  for (raft::NodeId id = 1; id <= 3; ++id) cluster.crash(id);
  cluster.start_all();
  leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  // A new leader commits an entry of its own term, and with it everything before.
  auto marker = propose(cluster.node(leader), submit_command("job-after-restart"));
  ASSERT_TRUE(answered(marker));
  ASSERT_EQ(marker.get().code, ProposeOutcome::Code::kApplied);
  for (raft::NodeId id = 1; id <= 3; ++id) {
    EXPECT_TRUE(eventually([&] {
      return jobs_found(cluster.node(id), acknowledged) == acknowledged.size();
    })) << "node "
        << id << " has " << jobs_found(cluster.node(id), acknowledged) << " of "
        << acknowledged.size() << " acknowledged jobs";
  }
}

TEST(NodeRestart, ACrashedFollowerCatchesUpWithWhatItMissed) {
  InProcessCluster cluster(3);
  cluster.start_all();
  raft::NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  const raft::NodeId follower = leader == 3 ? 2 : 3;
  cluster.crash(follower);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back("job-" + std::to_string(i));
    auto answer = propose(cluster.node(leader), submit_command(ids.back()));
    ASSERT_TRUE(answered(answer));
    ASSERT_EQ(answer.get().code, ProposeOutcome::Code::kApplied) << "a majority is up";
  }
  cluster.start(follower);
  EXPECT_TRUE(eventually([&] { return jobs_found(cluster.node(follower), ids) == ids.size(); }));
  // Committed entries may apply before this node's own write of them is durable; the write
  // follows.
  EXPECT_TRUE(eventually([&] { return cluster.log(follower).durable_last_index() >= ids.size(); }));
}

}  // namespace
}  // namespace nomad::node::testing
