// Forgetting an agent (AgentForgotten): it leaves the store's agents, slots, capacity and
// scheduling; never while an attempt runs there; its id is never given again, across
// snapshots too; a forgotten agent registering again is told what to do.

#include <gtest/gtest.h>

#include "jobs/agent_ids.h"
#include "jobs/job_store.h"
#include "support/job_commands.h"

namespace nomad::jobs {
namespace {

using testing::assign_cmd;
using testing::finished_cmd;
using testing::started_cmd;
using testing::submit_cmd;

class AgentForgottenTest : public ::testing::Test {
 protected:
  ApplyResult apply(const nomad_lite::Command& c) {
    return store_.apply({1, ++index_, raft::EntryType::kNormal, c.SerializeAsString()});
  }
  uint64_t register_agent(uint64_t id = 0) {
    nomad_lite::Command c;
    auto* r = c.mutable_agent_registered();
    r->set_id(id);
    r->set_id_floor(100);
    r->set_address("127.0.0.1:7" + std::to_string(index_));
    ApplyResult a = apply(c);
    EXPECT_TRUE(a.status) << a.status.message();
    return a.agent_id;
  }
  void report_capacity(uint64_t id) {
    nomad_lite::Command c;
    auto* s = c.mutable_updates()->add_slots();
    s->set_node_id(id);
    s->set_slots(2);
    s->set_agent(true);
    s->mutable_capacity()->set_cpu(4);
    ASSERT_TRUE(apply(c).status);
  }
  ApplyResult forget(uint64_t id) {
    nomad_lite::Command c;
    c.mutable_agent_forgotten()->set_id(id);
    c.mutable_agent_forgotten()->set_silent_ms(86'400'000);
    return apply(c);
  }

  JobStore store_;
  raft::Index index_ = 0;
};

TEST_F(AgentForgottenTest, AForgottenAgentLeavesEveryView) {
  uint64_t id = register_agent();
  report_capacity(id);
  ASSERT_TRUE(store_.agent(id));
  ASSERT_TRUE(store_.capacity_of(id));
  ApplyResult r = forget(id);
  ASSERT_TRUE(r.status) << r.status.message();
  EXPECT_EQ(store_.agent(id), nullptr);
  EXPECT_EQ(store_.capacity_of(id), nullptr);
  EXPECT_EQ(store_.node_slots().count(id), 0u);
  EXPECT_TRUE(forget(id).status);  // proposed twice: the second is a no-op
}

TEST_F(AgentForgottenTest, NeverWhileAnAttemptRunsThere) {
  uint64_t id = register_agent();
  report_capacity(id);
  ASSERT_TRUE(apply(submit_cmd("j1")).status);
  ASSERT_TRUE(apply(assign_cmd("j1", 1, id, 1000)).status);
  ASSERT_TRUE(apply(started_cmd("j1", 1, id, 1001)).status);
  ApplyResult r = forget(id);
  EXPECT_FALSE(r.status);
  EXPECT_NE(r.status.message().find("attempts running"), std::string::npos) << r.status.message();
  EXPECT_TRUE(store_.agent(id));
  ASSERT_TRUE(apply(finished_cmd("j1", 1, id, 1002, 0)).status);
  EXPECT_TRUE(forget(id).status);
  EXPECT_EQ(store_.agent(id), nullptr);
}

TEST_F(AgentForgottenTest, ItsIdIsNeverGivenAgainEvenAfterASnapshot) {
  uint64_t first = register_agent();
  uint64_t second = register_agent();
  ASSERT_EQ(second, first + 1);
  ASSERT_TRUE(forget(second).status);
  EXPECT_EQ(store_.highest_agent_id(), second);
  EXPECT_EQ(next_agent_id(store_, 100), second + 1);

  JobStore restored;
  ASSERT_TRUE(restored.restore(store_.snapshot()));
  EXPECT_EQ(restored.agent(second), nullptr);
  EXPECT_EQ(restored.highest_agent_id(), second);
  EXPECT_EQ(next_agent_id(restored, 100), second + 1);
}

TEST_F(AgentForgottenTest, AForgottenAgentRegisteringAgainIsToldWhatToDo) {
  uint64_t id = register_agent();
  ASSERT_TRUE(forget(id).status);
  nomad_lite::Command again;
  again.mutable_agent_registered()->set_id(id);
  again.mutable_agent_registered()->set_address("127.0.0.1:7999");
  ApplyResult r = apply(again);
  ASSERT_FALSE(r.status);
  EXPECT_NE(r.status.message().find("forgotten"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("agent.json"), std::string::npos) << r.status.message();
  EXPECT_EQ(store_.agent(id), nullptr);
  EXPECT_EQ(register_agent(), id + 1);  // as a new agent it gets a new id
}

}  // namespace
}  // namespace nomad::jobs
