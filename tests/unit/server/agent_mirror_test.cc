// The agent's copy of its jobs (server/agent_mirror.h), filled from AgentStream updates.

#include "server/agent_mirror.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace nomad::server {
namespace {

nomad_lite::Job job(const std::string& id, uint64_t node, nomad_lite::JobStatus status,
                    uint64_t submit_index) {
  nomad_lite::Job j;
  j.set_id(id);
  j.set_command("true");
  j.set_status(status);
  j.set_submit_index(submit_index);
  j.set_node_id(node);
  j.set_attempt(1);
  auto* a = j.add_attempts();
  a->set_number(1);
  a->set_node_id(node);
  a->set_status(status);
  return j;
}

nomad_lite::AgentUpdate update(uint64_t term, uint64_t index, bool full,
                               std::vector<nomad_lite::Job> jobs,
                               std::vector<std::string> removed = {}) {
  nomad_lite::AgentUpdate u;
  u.set_term(term);
  u.set_applied_index(index);
  u.set_full(full);
  for (auto& j : jobs) *u.add_jobs() = std::move(j);
  for (auto& r : removed) u.add_removed(r);
  return u;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

TEST(AgentMirror, AFullUpdateReplacesEverything) {
  AgentMirror m;
  m.apply(update(1, 10, true,
                 {job("a", 101, nomad_lite::JOB_STATUS_RUNNING, 1),
                  job("b", 101, nomad_lite::JOB_STATUS_COMPLETED, 2)}));
  ASSERT_NE(m.store().find("a"), nullptr);
  EXPECT_EQ(m.applied_index(), 10u);
  EXPECT_EQ(m.store().running_on(101), 1u);
  // A new leader's first update: "b" is gone from it, so it goes here too.
  auto changed = m.apply(update(2, 12, true, {job("a", 101, nomad_lite::JOB_STATUS_RUNNING, 1)}));
  EXPECT_EQ(sorted(changed), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(m.store().find("b"), nullptr);
  EXPECT_NE(m.store().find("a"), nullptr);
  EXPECT_EQ(m.term(), 2u);
}

TEST(AgentMirror, UpdatesReplaceAndRemoveTheJobsTheyName) {
  AgentMirror m;
  m.apply(update(1, 5, true, {job("a", 101, nomad_lite::JOB_STATUS_RUNNING, 1)}));
  auto changed = m.apply(update(1, 6, false,
                                {job("a", 101, nomad_lite::JOB_STATUS_COMPLETED, 1),
                                 job("c", 101, nomad_lite::JOB_STATUS_RUNNING, 3)}));
  EXPECT_EQ(sorted(changed), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(m.store().find("a")->status(), nomad_lite::JOB_STATUS_COMPLETED);
  EXPECT_EQ(m.store().running_on(101), 1u);  // indexes follow the replaced job
  changed = m.apply(update(1, 7, false, {}, {"a"}));
  EXPECT_EQ(changed, (std::vector<std::string>{"a"}));
  EXPECT_EQ(m.store().find("a"), nullptr);
  EXPECT_EQ(m.applied_index(), 7u);
}

TEST(AgentMirror, AnIndexAloneAdvancesTheAppliedIndex) {
  AgentMirror m;
  m.apply(update(1, 5, true, {}));
  EXPECT_TRUE(m.apply(update(1, 9, false, {})).empty());
  EXPECT_EQ(m.applied_index(), 9u);
}

TEST(AgentMirror, OlderTermsAndIndexesAreIgnored) {
  AgentMirror m;
  m.apply(update(3, 20, true, {job("a", 101, nomad_lite::JOB_STATUS_RUNNING, 1)}));
  // A deposed leader's late update.
  EXPECT_TRUE(
      m.apply(update(2, 30, false, {job("a", 101, nomad_lite::JOB_STATUS_CANCELLED, 1)})).empty());
  EXPECT_EQ(m.store().find("a")->status(), nomad_lite::JOB_STATUS_RUNNING);
  EXPECT_TRUE(m.apply(update(3, 19, false, {}, {"a"})).empty());
  EXPECT_NE(m.store().find("a"), nullptr);
  EXPECT_EQ(m.applied_index(), 20u);
  // A new leader's index may trail the old one's: the highest is kept.
  m.apply(update(4, 18, true, {job("a", 101, nomad_lite::JOB_STATUS_RUNNING, 1)}));
  EXPECT_EQ(m.applied_index(), 20u);
}

}  // namespace
}  // namespace nomad::server
