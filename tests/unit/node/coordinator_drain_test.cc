// The leader's side of a drain: nothing new goes to the node, what runs there at the deadline
// is ended as "drained" and placed elsewhere, the drain is declared complete once the node is
// empty, and a new leader (a fresh coordinator over the same applied state) does the same.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "node/coordinator.h"
#include "support/job_commands.h"
#include "support/node_scheduling_commands.h"

namespace nomad::node {
namespace {

using jobs::testing::drain_cmd;
using jobs::testing::eligibility_cmd;
using jobs::testing::finished_cmd;
using jobs::testing::running_ids;
using jobs::testing::submit_cmd;
using Commands = std::vector<nomad_lite::Command>;

constexpr int64_t kWall0 = 1'700'000'000'000;

Coordinator::Clock::time_point at(int64_t ms) {
  return Coordinator::Clock::time_point{} + std::chrono::milliseconds(ms);
}
int64_t wall(int64_t ms) { return kWall0 + ms; }

class DrainTest : public ::testing::Test {
 protected:
  void lead(int64_t since_ms) {
    Coordinator::Options o;
    o.self = 1;
    o.nodes = {1, 2, 3};
    o.queue_per_slot = 0;
    coord_ = std::make_unique<Coordinator>(o);
    coord_->become_leader(at(since_ms));
  }
  void commit(const Commands& cmds) {
    for (const auto& c : cmds) {
      store_.apply(raft::Entry{1, ++index_, raft::EntryType::kNormal, c.SerializeAsString()});
    }
    coord_->on_applied(store_, store_.take_changes());
  }
  void commit(const nomad_lite::Command& c) { commit(Commands{c}); }
  Commands collect(int64_t ms) { return coord_->collect(store_, at(ms), wall(ms)); }
  void hear_all(int64_t ms) {
    for (uint64_t node : {1, 2, 3}) {
      nomad_lite::WorkerReport r;
      r.set_node_id(node);
      r.set_slots(2);
      coord_->on_report(store_, r, at(ms));
    }
  }
  static std::vector<nomad_lite::JobFinished> finishes(const Commands& cmds) {
    std::vector<nomad_lite::JobFinished> out;
    for (const auto& c : cmds) {
      for (const auto& f : c.updates().finished()) out.push_back(f);
    }
    return out;
  }
  static std::vector<nomad_lite::NodeDrained> drained(const Commands& cmds) {
    std::vector<nomad_lite::NodeDrained> out;
    for (const auto& c : cmds) {
      if (c.has_node_drained()) out.push_back(c.node_drained());
    }
    return out;
  }
  static size_t assigned_to(const Commands& cmds, uint64_t node) {
    size_t n = 0;
    for (const auto& c : cmds) {
      for (const auto& a : c.updates().assign()) n += a.node_id() == node;
    }
    return n;
  }

  // Six jobs, two on each node, all started.
  void six_running() {
    hear_all(0);
    for (int i = 0; i < 6; ++i) commit(submit_cmd("j" + std::to_string(i)));
    commit(collect(0));
    for (uint64_t node : {1, 2, 3}) ASSERT_EQ(running_ids(store_, node).size(), 2u);
  }

  jobs::JobStore store_;
  raft::Index index_ = 0;
  std::unique_ptr<Coordinator> coord_;
};

TEST_F(DrainTest, NothingNewGoesToADrainingNodeAndItsJobsRunOnUntilTheDeadline) {
  lead(0);
  six_running();
  commit(drain_cmd(3, wall(10'000), wall(100)));
  const auto on3 = running_ids(store_, 3);
  // Node 1's jobs end: their slots take new jobs; node 3's never do.
  for (const auto& id : running_ids(store_, 1)) commit(finished_cmd(id, 1, 1, wall(200), 0));
  for (int i = 6; i < 12; ++i) commit(submit_cmd("j" + std::to_string(i)));
  hear_all(300);
  Commands placed = collect(300);
  EXPECT_EQ(assigned_to(placed, 3), 0u);
  EXPECT_EQ(assigned_to(placed, 1), 2u);
  commit(placed);
  hear_all(9'000);
  Commands before = collect(9'000);
  EXPECT_TRUE(finishes(before).empty()) << "the deadline has not passed";
  EXPECT_TRUE(drained(before).empty()) << "node 3 still runs two jobs";
  EXPECT_EQ(running_ids(store_, 3), on3);
}

TEST_F(DrainTest, AtTheDeadlineWhatStillRunsIsEndedAsDrainedOnceAndRerunsOnceSurelyDead) {
  lead(0);
  six_running();
  commit(drain_cmd(3, wall(10'000), wall(100)));
  const auto on3 = running_ids(store_, 3);
  // One of node 3's jobs ends by itself before the deadline.
  commit(finished_cmd(on3[0], 1, 3, wall(500), 0));
  // Free slots elsewhere for the rerun.
  for (const auto& id : running_ids(store_, 2)) commit(finished_cmd(id, 1, 2, wall(600), 0));
  hear_all(10'000);
  Commands at_deadline = collect(10'000);
  auto f = finishes(at_deadline);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].job_id(), on3[1]);
  EXPECT_EQ(f[0].node_id(), 3u);
  EXPECT_EQ(f[0].reason(), "drained");
  EXPECT_TRUE(finishes(collect(10'100)).empty()) << "proposed twice while in flight";

  commit(at_deadline);
  const nomad_lite::Job& job = *store_.find(on3[1]);
  EXPECT_EQ(job.status(), nomad_lite::JOB_STATUS_PENDING);
  // Not before its process is certainly dead: the wait of a lost attempt (5 s worker timeout,
  // 5 s kill grace, 0.5 s drift).
  EXPECT_EQ(job.not_before_ms(), wall(20'500));
  hear_all(10'200);
  Commands empty = collect(10'200);
  EXPECT_EQ(assigned_to(empty, 2), 0u) << "rerun before the drained process is surely dead";
  auto done = drained(empty);
  ASSERT_EQ(done.size(), 1u) << "node 3 is empty now";
  EXPECT_EQ(done[0].node_id(), 3u);
  commit(empty);
  EXPECT_FALSE(store_.scheduling_of(3).draining());
  EXPECT_EQ(store_.scheduling_of(3).drained_at_ms(), wall(10'200));
  EXPECT_FALSE(store_.eligible(3));
  for (int64_t t = 14'000; t <= 20'000; t += 3'000) hear_all(t);
  hear_all(20'500);
  Commands rerun = collect(20'500);
  EXPECT_EQ(assigned_to(rerun, 3), 0u);
  EXPECT_EQ(assigned_to(rerun, 2), 1u) << "placed on a node with a free slot";
  commit(rerun);
  EXPECT_EQ(store_.find(on3[1])->attempts(1).node_id(), 2u);
  EXPECT_TRUE(drained(collect(20'600)).empty()) << "complete: nothing more to say";
}

TEST_F(DrainTest, ADrainWithoutDeadlineWaitsForTheJobsHoweverLongTheyRun) {
  lead(0);
  six_running();
  commit(drain_cmd(1, 0, wall(100)));
  hear_all(3'600'000);
  Commands later = collect(3'600'000);
  EXPECT_TRUE(finishes(later).empty());
  EXPECT_TRUE(drained(later).empty());
  for (const auto& id : running_ids(store_, 1)) commit(finished_cmd(id, 1, 1, wall(3'600'001), 0));
  EXPECT_EQ(drained(collect(3'600'002)).size(), 1u);
}

TEST_F(DrainTest, AnIdleNodeIsDrainedAtOnce) {
  lead(0);
  hear_all(0);
  commit(drain_cmd(2, wall(60'000), wall(10)));
  Commands cmds = collect(20);
  ASSERT_EQ(drained(cmds).size(), 1u);
  commit(cmds);
  EXPECT_EQ(store_.scheduling_of(2).drained_at_ms(), wall(20));
}

TEST_F(DrainTest, ANewLeaderEnforcesTheDeadlineOfADrainBegunUnderTheOldOne) {
  lead(0);
  six_running();
  commit(drain_cmd(2, wall(5'000), wall(100)));
  const auto on2 = running_ids(store_, 2);
  coord_->lose_leadership();
  // Another coordinator over the same applied state: the drain is in it, not in soft state.
  lead(4'000);
  hear_all(4'000);
  EXPECT_TRUE(finishes(collect(4'999)).empty());
  auto f = finishes(collect(5'000));
  ASSERT_EQ(f.size(), 2u);
  for (const auto& finish : f) {
    EXPECT_EQ(finish.node_id(), 2u);
    EXPECT_EQ(finish.reason(), "drained");
  }
}

TEST_F(DrainTest, ACancelledDrainEndsNothingAtItsDeadline) {
  lead(0);
  six_running();
  commit(drain_cmd(2, wall(5'000), wall(100)));
  commit(eligibility_cmd(2, true));
  hear_all(6'000);
  Commands cmds = collect(6'000);
  EXPECT_TRUE(finishes(cmds).empty());
  EXPECT_TRUE(drained(cmds).empty());
}

TEST_F(DrainTest, ANodeMadeEligibleAgainGetsTheWaitingJobsAtOnce) {
  lead(0);
  hear_all(0);
  for (uint64_t node : {1, 2, 3}) commit(eligibility_cmd(node, false));
  commit(submit_cmd("waiting"));
  Commands none = collect(10);
  ASSERT_EQ(assigned_to(none, 1) + assigned_to(none, 2) + assigned_to(none, 3), 0u);
  commit(none);
  commit(eligibility_cmd(2, true));  // changes no job
  EXPECT_EQ(assigned_to(collect(20), 2), 1u) << "placement must look again";
}

TEST_F(DrainTest, AWorkerCannotClaimItsAttemptWasDrained) {
  lead(0);
  six_running();
  const auto on1 = running_ids(store_, 1);
  nomad_lite::WorkerReport r;
  r.set_node_id(1);
  r.set_slots(2);
  *r.add_finished() = jobs::testing::finished_msg(on1[0], 1, 1, wall(50), std::nullopt, "drained");
  coord_->on_report(store_, r, at(50));
  auto f = finishes(collect(50));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].reason(), "killed") << "only the leader ends an attempt as drained";
}

}  // namespace
}  // namespace nomad::node
