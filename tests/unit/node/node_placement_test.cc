// The leader proposes a submission and its placement together: one append per follower carries
// both, so they commit in the same round (README: a lone job takes two Raft rounds).

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "in_process_cluster.h"

namespace nomad::node::testing {
namespace {

TEST(NodePlacement, ASubmissionAndItsPlacementLeaveInOneAppend) {
  InProcessCluster cluster(3);
  cluster.start_all();
  const raft::NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, raft::kNoNode);
  Node& node = cluster.node(leader);
  // A worker with a free slot, as its first report tells the leader.
  nomad_lite::WorkerReport report;
  report.set_node_id(leader);
  report.set_slots(1);
  node.deliver_report(report);
  // Its slots are committed first (the coordinator proposes them as it hears the report).
  ASSERT_TRUE(eventually([&] {
    return node.read_jobs(
        [&](const jobs::JobStore& s) { return s.node_slots().count(leader) > 0; });
  }));

  std::mutex mu;
  std::vector<std::vector<raft::Index>> appends;  // the entries of each append with new ones
  const raft::NodeId follower = leader == 1 ? 2 : 1;
  // The slots entry applied, so it is durable here: nothing newer is in the log yet.
  const raft::Index before = cluster.log(leader).durable_last_index();
  cluster.network().observe([&](const raft::Message& m) {
    if (m.from != leader || m.to != follower || m.type != raft::MessageType::kAppend) return;
    std::vector<raft::Index> indexes;
    for (const auto& e : m.entries) {
      if (e.index > before) indexes.push_back(e.index);
    }
    std::lock_guard lock(mu);
    if (!indexes.empty()) appends.push_back(indexes);
  });

  auto promise = std::make_shared<std::promise<ProposeOutcome>>();
  auto answer = promise->get_future().share();
  node.propose(
      submit_command("j1"), [promise](ProposeOutcome out) { promise->set_value(out); },
      Coordinator::Submitted{"j1", ""});
  ASSERT_TRUE(answered(answer));
  ASSERT_EQ(answer.get().code, ProposeOutcome::Code::kApplied);
  ASSERT_TRUE(eventually([&] {
    return node.read_jobs([](const jobs::JobStore& s) {
      const nomad_lite::Job* job = s.find("j1");
      return job && job->status() == nomad_lite::JOB_STATUS_RUNNING;
    });
  })) << "the job was not placed";
  std::lock_guard lock(mu);
  ASSERT_FALSE(appends.empty());
  // The first append with new entries holds the submission and its assignment.
  EXPECT_EQ(appends.front(), (std::vector<raft::Index>{before + 1, before + 2}));
}

}  // namespace
}  // namespace nomad::node::testing
