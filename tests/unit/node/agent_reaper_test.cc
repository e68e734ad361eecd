// The leader's forgetting of agents (node/agent_reaper.h): only agents silent for the whole
// --forget-agents-after, counted from this leader's start at most, with nothing running;
// never with 0; proposed again only after a pause.

#include "node/agent_reaper.h"

#include <gtest/gtest.h>

#include <map>

#include "support/job_commands.h"

namespace nomad::node {
namespace {

using namespace std::chrono_literals;

class AgentReaperTest : public ::testing::Test {
 protected:
  void apply(const nomad_lite::Command& c) {
    ASSERT_TRUE(
        store_.apply({1, ++index_, raft::EntryType::kNormal, c.SerializeAsString()}).status);
  }
  uint64_t register_agent() {
    nomad_lite::Command c;
    c.mutable_agent_registered()->set_id_floor(100);
    c.mutable_agent_registered()->set_address("h:" + std::to_string(index_));
    return store_.apply({1, ++index_, raft::EntryType::kNormal, c.SerializeAsString()}).agent_id;
  }
  std::vector<uint64_t> forgotten(AgentReaper& reaper, AgentReaper::Clock::time_point now,
                                  uint64_t term = 1) {
    std::vector<uint64_t> ids;
    for (const auto& c : reaper.collect(store_, now, 0, term, [&](uint64_t id) {
           auto it = heard_.find(id);
           return it == heard_.end() ? -1 : it->second;
         })) {
      ids.push_back(c.agent_forgotten().id());
    }
    return ids;
  }

  jobs::JobStore store_;
  raft::Index index_ = 0;
  std::map<uint64_t, int64_t> heard_;  // ms since the leader last heard from the agent
  AgentReaper::Clock::time_point t0_ = AgentReaper::Clock::time_point{} + 1000h;
};

TEST_F(AgentReaperTest, ForgetsOnlyAgentsSilentLongEnoughWithNothingRunning) {
  uint64_t silent = register_agent(), talking = register_agent(), busy = register_agent();
  apply(jobs::testing::submit_cmd("j"));
  apply(jobs::testing::assign_cmd("j", 1, busy, 1));
  AgentReaper reaper(10s);
  EXPECT_TRUE(forgotten(reaper, t0_).empty());  // this leader just started
  heard_[talking] = 200;
  heard_[silent] = 60'000;  // heard long ago, under an earlier leadership of this node
  EXPECT_TRUE(forgotten(reaper, t0_ + 9s).empty());  // silence counts from this leader's start
  EXPECT_EQ(forgotten(reaper, t0_ + 11s), std::vector<uint64_t>{silent});
}

TEST_F(AgentReaperTest, ZeroMeansNever) {
  register_agent();
  AgentReaper reaper(0ms);
  EXPECT_TRUE(forgotten(reaper, t0_).empty());
  EXPECT_TRUE(forgotten(reaper, t0_ + 1000h).empty());
}

TEST_F(AgentReaperTest, ProposesAgainOnlyAfterAPauseAndAfreshInANewTerm) {
  uint64_t id = register_agent();
  AgentReaper reaper(5s);
  EXPECT_TRUE(forgotten(reaper, t0_).empty());
  EXPECT_EQ(forgotten(reaper, t0_ + 6s), std::vector<uint64_t>{id});
  EXPECT_TRUE(forgotten(reaper, t0_ + 7s).empty());                    // in flight
  EXPECT_EQ(forgotten(reaper, t0_ + 10s), std::vector<uint64_t>{id});  // not applied: again
  // A new term: silence counts from the new leadership.
  EXPECT_TRUE(forgotten(reaper, t0_ + 11s, 2).empty());
  EXPECT_EQ(forgotten(reaper, t0_ + 17s, 2), std::vector<uint64_t>{id});
}

}  // namespace
}  // namespace nomad::node
