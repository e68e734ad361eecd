// Agent ids (jobs/agent_ids.h): given at apply, above every member's and every id the store
// knows, never reused, kept in snapshots; a registration again keeps the certificate bound.

#include "jobs/agent_ids.h"

#include <gtest/gtest.h>

#include "jobs/job_store.h"

namespace nomad::jobs {
namespace {

raft::Entry entry(raft::Index index, const nomad_lite::Command& c) {
  return {1, index, raft::EntryType::kNormal, c.SerializeAsString()};
}

raft::Entry register_entry(raft::Index index, uint64_t id, uint64_t floor,
                           const std::string& address, const std::string& certificate = "") {
  nomad_lite::Command c;
  auto* r = c.mutable_agent_registered();
  r->set_id(id);
  r->set_id_floor(floor);
  r->set_address(address);
  r->set_name("agent-at-" + address);
  r->set_certificate(certificate);
  return entry(index, c);
}

raft::Entry slots_entry(raft::Index index, uint64_t node, uint32_t slots) {
  nomad_lite::Command c;
  auto* s = c.mutable_updates()->add_slots();
  s->set_node_id(node);
  s->set_slots(slots);
  return entry(index, c);
}

TEST(AgentIds, FloorIsAtLeastOneHundredAndAboveEveryMember) {
  EXPECT_EQ(agent_id_floor({}), kAgentIdFloor);
  EXPECT_EQ(agent_id_floor({1, 2, 3}), 100u);
  EXPECT_EQ(agent_id_floor({1, 250, 7}), 250u);
}

TEST(AgentIds, NewAgentsGetIncreasingIdsAboveTheFloor) {
  JobStore store;
  ApplyResult a = store.apply(register_entry(1, 0, agent_id_floor({1, 2, 3}), "h:1"));
  ASSERT_TRUE(a.status) << a.status.message();
  EXPECT_EQ(a.agent_id, 101u);
  // Two registrations in flight carry the same floor: they still get two ids.
  ApplyResult b = store.apply(register_entry(2, 0, 100, "h:2"));
  ApplyResult c = store.apply(register_entry(3, 0, 100, "h:3"));
  EXPECT_EQ(b.agent_id, 102u);
  EXPECT_EQ(c.agent_id, 103u);
  ASSERT_NE(store.agent(102), nullptr);
  EXPECT_EQ(store.agent(102)->address(), "h:2");
  EXPECT_EQ(store.agent(102)->id_floor(), 0u);  // the floor is the proposal's, not kept
}

TEST(AgentIds, NeverAnIdANodeReportedWith) {
  JobStore store;
  // A server with a large id that once reported its slots (it may no longer be a member).
  ASSERT_TRUE(store.apply(slots_entry(1, 700, 2)).status);
  EXPECT_EQ(store.apply(register_entry(2, 0, 100, "h:1")).agent_id, 701u);
  // A higher floor (a member with a higher id now) wins.
  EXPECT_EQ(store.apply(register_entry(3, 0, 900, "h:2")).agent_id, 901u);
}

TEST(AgentIds, RegisteringAgainKeepsTheIdAndTheCertificate) {
  JobStore store;
  ApplyResult a = store.apply(register_entry(1, 0, 100, "h:1", "agent-1"));
  ASSERT_EQ(a.agent_id, 101u);
  ApplyResult again = store.apply(register_entry(2, 101, 0, "h:9"));
  ASSERT_TRUE(again.status) << again.status.message();
  EXPECT_EQ(again.agent_id, 101u);
  EXPECT_EQ(store.agent(101)->address(), "h:9");
  EXPECT_EQ(store.agent(101)->certificate(), "agent-1");
  EXPECT_EQ(store.agents().size(), 1u);
}

TEST(AgentIds, AnIdNeverGivenIsRefused) {
  JobStore store;
  ApplyResult r = store.apply(register_entry(1, 555, 0, "h:1"));
  EXPECT_FALSE(r.status);
  EXPECT_NE(r.status.message().find("never given"), std::string::npos);
  EXPECT_TRUE(store.agents().empty());
}

TEST(AgentIds, SnapshotsKeepAgentsSoIdsAreNeverReused) {
  JobStore store;
  ASSERT_EQ(store.apply(register_entry(1, 0, 100, "h:1", "agent-1")).agent_id, 101u);
  ASSERT_EQ(store.apply(register_entry(2, 0, 100, "h:2", "agent-2")).agent_id, 102u);
  JobStore restored;
  ASSERT_TRUE(restored.restore(store.snapshot()));
  ASSERT_EQ(restored.agents().size(), 2u);
  EXPECT_EQ(restored.agent(102)->certificate(), "agent-2");
  EXPECT_EQ(restored.apply(register_entry(3, 0, 100, "h:3")).agent_id, 103u);
}

}  // namespace
}  // namespace nomad::jobs
