// The leader's coordinator with worker-only agents: registered agents are workers for
// placement (members + agents), an unregistered id is not, and an agent gone silent has its
// attempts declared lost as a node's.

#include <gtest/gtest.h>

#include <memory>

#include "node/coordinator.h"
#include "support/job_commands.h"

namespace nomad::node {
namespace {

using jobs::testing::submit_cmd;

constexpr int64_t kAgentsWall0 = 1'700'000'000'000;

Coordinator::Clock::time_point agents_at(int64_t ms) {
  return Coordinator::Clock::time_point{} + std::chrono::milliseconds(ms);
}

class CoordinatorAgents : public ::testing::Test {
 protected:
  void SetUp() override {
    Coordinator::Options o;
    o.self = 1;
    o.nodes = {1, 2, 3};
    o.worker_timeout = std::chrono::milliseconds(2000);
    o.kill_grace = std::chrono::milliseconds(0);
    o.lost_drift = std::chrono::milliseconds(0);
    o.queue_per_slot = 0;
    coord_ = std::make_unique<Coordinator>(o);
    coord_->become_leader(agents_at(0));
  }

  void commit(const std::vector<nomad_lite::Command>& cmds) {
    for (const auto& c : cmds) {
      store_.apply(raft::Entry{1, ++index_, raft::EntryType::kNormal, c.SerializeAsString()});
    }
    coord_->on_applied(store_, store_.take_changes());
  }

  uint64_t register_agent(const std::string& address) {
    nomad_lite::Command c;
    c.mutable_agent_registered()->set_address(address);
    c.mutable_agent_registered()->set_id_floor(100);
    jobs::ApplyResult r =
        store_.apply(raft::Entry{1, ++index_, raft::EntryType::kNormal, c.SerializeAsString()});
    coord_->on_applied(store_, store_.take_changes());
    return r.agent_id;
  }

  void hear(uint64_t node, uint32_t slots, int64_t ms) {
    nomad_lite::WorkerReport r;
    r.set_node_id(node);
    r.set_slots(slots);
    coord_->on_report(store_, r, agents_at(ms));
  }

  std::vector<nomad_lite::Command> collect(int64_t ms) {
    return coord_->collect(store_, agents_at(ms), kAgentsWall0 + ms);
  }

  jobs::JobStore store_;
  raft::Index index_ = 0;
  std::unique_ptr<Coordinator> coord_;
};

TEST_F(CoordinatorAgents, OnlyRegisteredAgentsGetJobsBesideMembers) {
  for (uint64_t server : {1, 2, 3}) hear(server, 0, 0);  // --worker-slots 0
  hear(555, 4, 0);                                       // reports, but never registered
  commit({submit_cmd("j1")});
  commit(collect(0));
  EXPECT_EQ(store_.find("j1")->status(), nomad_lite::JOB_STATUS_PENDING);

  const uint64_t agent = register_agent("127.0.0.1:7001");
  // Node 555 reported its slots (they were replicated): no agent may take its id.
  ASSERT_EQ(agent, 556u);
  hear(agent, 2, 10);
  auto cmds = collect(10);
  commit(cmds);
  EXPECT_EQ(store_.find("j1")->status(), nomad_lite::JOB_STATUS_RUNNING);
  EXPECT_EQ(store_.find("j1")->node_id(), agent);
  // Its slots are replicated, marked as an agent's with its address.
  bool marked = false;
  for (const auto& c : cmds) {
    for (const auto& s : c.updates().slots()) {
      if (s.node_id() == agent) marked = s.agent() && s.address() == "127.0.0.1:7001";
    }
  }
  EXPECT_TRUE(marked);
  EXPECT_TRUE(coord_->worker_alive(agent, agents_at(10)));
}

TEST_F(CoordinatorAgents, ASilentAgentsAttemptsAreDeclaredLost) {
  const uint64_t agent = register_agent("127.0.0.1:7001");
  for (uint64_t server : {1, 2, 3}) hear(server, 0, 0);
  hear(agent, 1, 0);
  commit({submit_cmd("j1")});
  commit(collect(0));
  ASSERT_EQ(store_.find("j1")->node_id(), agent);
  // The servers keep reporting; the agent does not.
  for (uint64_t server : {1, 2, 3}) hear(server, 0, 2500);
  commit(collect(2500));
  const nomad_lite::Job* j = store_.find("j1");
  ASSERT_GE(j->attempts_size(), 1);
  EXPECT_EQ(j->attempts(0).reason(), "lost");
  EXPECT_NE(j->attempts(0).error().find("node " + std::to_string(agent)), std::string::npos);
}

TEST_F(CoordinatorAgents, AnIdleAgentWhoseStreamIsOpenStaysPlaceableWithoutReporting) {
  const uint64_t agent = register_agent("127.0.0.1:7001");
  for (uint64_t server : {1, 2, 3}) hear(server, 0, 0);
  hear(agent, 1, 0);
  commit(collect(0));  // its slots
  for (uint64_t server : {1, 2, 3}) hear(server, 0, 5000);
  EXPECT_FALSE(coord_->worker_alive(agent, agents_at(5000))) << "silent for 5 s, no stream";

  // Its stream is open: heard from, placeable again, though it sent no report.
  EXPECT_EQ(coord_->on_connected(store_, {agent}, agents_at(5000)), std::vector<uint64_t>{agent});
  EXPECT_TRUE(coord_->worker_alive(agent, agents_at(5000)));
  commit({submit_cmd("j1")});
  commit(collect(5000));
  EXPECT_EQ(store_.find("j1")->node_id(), agent);
  EXPECT_EQ(store_.find("j1")->status(), nomad_lite::JOB_STATUS_RUNNING);
}

TEST_F(CoordinatorAgents, AnAgentWithAnAttemptIsHeardFromOnlyThroughItsReports) {
  const uint64_t agent = register_agent("127.0.0.1:7001");
  for (uint64_t server : {1, 2, 3}) hear(server, 0, 0);
  hear(agent, 1, 0);
  commit({submit_cmd("j1")});
  commit(collect(0));
  ASSERT_EQ(store_.find("j1")->node_id(), agent);
  // Its stream stays open, but its lease and the verdict on its attempt count from reports
  // (worker/lease.h): an open stream does not keep a mute agent's attempt alive.
  EXPECT_TRUE(coord_->on_connected(store_, {agent}, agents_at(1500)).empty());
  for (uint64_t server : {1, 2, 3}) hear(server, 0, 2500);
  commit(collect(2500));
  ASSERT_GE(store_.find("j1")->attempts_size(), 1);
  EXPECT_EQ(store_.find("j1")->attempts(0).reason(), "lost");
}

TEST_F(CoordinatorAgents, AnOpenStreamOfAnAgentThatNeverReportedCountsForNothing) {
  const uint64_t agent = register_agent("127.0.0.1:7001");
  // Its slots and capacity come only with a report: nothing to place on yet.
  EXPECT_TRUE(coord_->on_connected(store_, {agent}, agents_at(0)).empty());
  EXPECT_FALSE(coord_->worker_alive(agent, agents_at(0)));
  // Nor does a follower count anyone.
  hear(agent, 1, 0);
  coord_->lose_leadership();
  EXPECT_TRUE(coord_->on_connected(store_, {agent}, agents_at(10)).empty());
}

}  // namespace
}  // namespace nomad::node
