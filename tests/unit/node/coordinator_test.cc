// The leader's coordinator against a real JobStore: the commands it collects are applied as
// the next log entries (as if committed at once, or later, or never), time is passed in
// explicitly (a fake steady clock and a wall clock), so every test is deterministic.

#include "node/coordinator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "support/job_commands.h"

namespace nomad::node {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace coordinator_test {

using jobs::testing::assign_cmd;
using jobs::testing::cancel_cmd;
using jobs::testing::finished_cmd;
using jobs::testing::finished_msg;
using jobs::testing::Opt;
using jobs::testing::running_ids;
using jobs::testing::slots_cmd;
using jobs::testing::started_msg;
using jobs::testing::submit_cmd;
using Commands = std::vector<nomad_lite::Command>;
using Assign = std::tuple<std::string, uint32_t, uint64_t>;  // job, attempt, node

constexpr int64_t kWall0 = 1'700'000'000'000;  // wall ms at steady 0

Coordinator::Clock::time_point at(int64_t ms) {
  return Coordinator::Clock::time_point{} + std::chrono::milliseconds(ms);
}
int64_t wall(int64_t ms) { return kWall0 + ms; }

std::vector<Assign> assigns(const Commands& cmds) {
  std::vector<Assign> out;
  for (const auto& c : cmds) {
    for (const auto& a : c.updates().assign())
      out.emplace_back(a.job_id(), a.attempt(), a.node_id());
  }
  return out;
}

std::vector<std::pair<std::string, uint32_t>> starts(const Commands& cmds) {
  std::vector<std::pair<std::string, uint32_t>> out;
  for (const auto& c : cmds) {
    for (const auto& s : c.updates().started()) out.emplace_back(s.job_id(), s.attempt());
  }
  return out;
}

std::vector<nomad_lite::JobFinished> finishes(const Commands& cmds) {
  std::vector<nomad_lite::JobFinished> out;
  for (const auto& c : cmds) {
    for (const auto& f : c.updates().finished()) out.push_back(f);
  }
  return out;
}

std::vector<std::pair<uint64_t, uint32_t>> slots(const Commands& cmds) {
  std::vector<std::pair<uint64_t, uint32_t>> out;
  for (const auto& c : cmds) {
    for (const auto& s : c.updates().slots()) out.emplace_back(s.node_id(), s.slots());
  }
  return out;
}

std::vector<std::string> removals(const Commands& cmds) {
  std::vector<std::string> out;
  for (const auto& c : cmds) {
    for (const auto& id : c.remove().job_ids()) out.push_back(id);
  }
  return out;
}

std::map<uint64_t, int> per_node(const std::vector<Assign>& a) {
  std::map<uint64_t, int> out;
  for (const auto& [job, attempt, node] : a) ++out[node];
  return out;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  static Coordinator::Options defaults() {
    Coordinator::Options o;
    o.self = 1;
    o.nodes = {1, 2, 3};
    o.worker_timeout = std::chrono::milliseconds(5000);
    // Workers that kill at once: a stopped job's attempt is lost after the timeout alone.
    // The lease timing (timeout + grace + drift) has tests of its own below.
    o.kill_grace = std::chrono::milliseconds(0);
    o.lost_drift = std::chrono::milliseconds(0);
    // Placement to the slots alone; the queue beyond them has tests of its own.
    o.queue_per_slot = 0;
    return o;
  }

  // A coordinator that became leader at steady `since_ms`.
  void lead(int64_t since_ms = 0, Coordinator::Options o = defaults()) {
    coord_ = std::make_unique<Coordinator>(std::move(o));
    coord_->become_leader(at(since_ms));
  }

  // Applies the commands as the next log entries (they committed), then tells the coordinator.
  void commit(const Commands& cmds) {
    for (const auto& c : cmds) {
      store_.apply(raft::Entry{1, ++index_, raft::EntryType::kNormal, c.SerializeAsString()});
    }
    std::vector<std::string> changed = store_.take_changes();
    if (coord_) coord_->on_applied(store_, changed);  // before lead(): an earlier leader's log
  }
  void commit(const nomad_lite::Command& c) { commit(Commands{c}); }

  void submit(const std::string& id, const Opt& o = Opt()) { commit(submit_cmd(id, o)); }

  // Steady and wall clocks move together unless told otherwise.
  Commands collect(int64_t ms) { return coord_->collect(store_, at(ms), wall(ms)); }

  void hear(uint64_t node, uint32_t n, int64_t ms,
            const std::vector<nomad_lite::JobStarted>& started = {},
            const std::vector<nomad_lite::JobFinished>& finished = {}) {
    nomad_lite::WorkerReport r;
    r.set_node_id(node);
    r.set_slots(n);
    for (const auto& s : started) *r.add_started() = s;
    for (const auto& f : finished) *r.add_finished() = f;
    coord_->on_report(store_, r, at(ms));
  }

  const nomad_lite::Job& job(const std::string& id) const { return *store_.find(id); }

  jobs::JobStore store_;
  raft::Index index_ = 0;
  std::unique_ptr<Coordinator> coord_;
};

// --- leadership ---------------------------------------------------------------------------------

TEST_F(CoordinatorTest, NotLeadingCollectsNothing) {
  coord_ = std::make_unique<Coordinator>(defaults());
  submit("j1");
  commit(slots_cmd({{1, 4}}));
  hear(1, 4, 0);  // ignored: not the leader
  EXPECT_FALSE(coord_->leading());
  EXPECT_TRUE(collect(0).empty());
  EXPECT_TRUE(collect(60'000).empty());
  EXPECT_FALSE(coord_->worker_alive(1, at(0)));

  coord_->become_leader(at(0));
  hear(1, 4, 0);
  coord_->lose_leadership();
  EXPECT_FALSE(coord_->leading());
  EXPECT_TRUE(collect(0).empty());
  EXPECT_TRUE(collect(60'000).empty());  // not even lost attempts or retention
}

TEST_F(CoordinatorTest, LeadershipChangeClearsTheSoftState) {
  lead(0);
  submit("j1");
  hear(1, 2, 0);
  Commands first = collect(0);
  EXPECT_EQ(assigns(first), (std::vector<Assign>{{"j1", 1, 1}}));  // never applied

  coord_->lose_leadership();
  hear(1, 2, 50);  // a follower ignores reports
  coord_->become_leader(at(100));
  EXPECT_FALSE(coord_->worker_alive(1, at(100)));
  Commands none = collect(100);
  EXPECT_TRUE(assigns(none).empty()) << "assigned to a worker this leader never heard from";
  EXPECT_TRUE(slots(none).empty());

  hear(1, 2, 200);
  Commands again = collect(200);
  // The old in-flight assignment and sent slots are forgotten: both are proposed anew.
  EXPECT_EQ(assigns(again), (std::vector<Assign>{{"j1", 1, 1}}));
  EXPECT_EQ(slots(again), (std::vector<std::pair<uint64_t, uint32_t>>{{1, 2}}));
  commit(first);
  commit(again);  // the repeat is fenced at apply
  EXPECT_EQ(job("j1").attempts_size(), 1);
  EXPECT_EQ(job("j1").node_id(), 1u);
}

// --- slots --------------------------------------------------------------------------------------

TEST_F(CoordinatorTest, FirstReportProposesSlotsOnceAndAgainWhenTheyChange) {
  lead(0);
  hear(1, 4, 0);
  Commands c = collect(0);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].updates().at_ms(), wall(0));
  EXPECT_EQ(slots(c), (std::vector<std::pair<uint64_t, uint32_t>>{{1, 4}}));

  hear(1, 4, 100);
  EXPECT_TRUE(collect(100).empty()) << "slots proposed twice before they applied";
  commit(c);
  EXPECT_EQ(store_.node_slots().at(1), 4u);

  hear(1, 4, 1000);
  EXPECT_TRUE(collect(1000).empty());
  hear(1, 4, 4000);
  EXPECT_TRUE(collect(4000).empty()) << "the store already holds them";

  hear(1, 2, 4100);
  Commands changed = collect(4100);
  EXPECT_EQ(slots(changed), (std::vector<std::pair<uint64_t, uint32_t>>{{1, 2}}));
  commit(changed);
  EXPECT_EQ(store_.node_slots().at(1), 2u);
  hear(1, 2, 4200);
  EXPECT_TRUE(collect(4200).empty());
}

// --- placement ----------------------------------------------------------------------------------

TEST_F(CoordinatorTest, PendingJobsGoOnlyToAliveWorkersSpreadOverThem) {
  auto o = defaults();
  o.nodes = {1, 2, 3, 4, 5};
  lead(0, o);
  for (int i = 1; i <= 6; ++i) submit("j" + std::to_string(i));
  hear(1, 2, 0);
  hear(2, 2, 0);
  hear(3, 0, 0);      // runs no jobs
  hear(5, 8, -6000);  // reported before the leader's timeout window: not alive
  // Node 4 never reported.
  Commands c = collect(0);
  auto a = assigns(c);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(per_node(a), (std::map<uint64_t, int>{{1, 2}, {2, 2}}));
  commit(c);
  EXPECT_EQ(running_ids(store_, 1).size(), 2u);
  EXPECT_EQ(running_ids(store_, 2).size(), 2u);
  EXPECT_EQ(job("j5").status(), nomad_lite::JOB_STATUS_PENDING);
  EXPECT_EQ(job("j6").status(), nomad_lite::JOB_STATUS_PENDING);

  // Full: nothing more until a slot frees.
  EXPECT_TRUE(assigns(collect(100)).empty());
  std::string done = running_ids(store_, 2)[0];
  commit(finished_cmd(done, 1, 2, wall(200), 0));
  EXPECT_EQ(assigns(collect(200)), (std::vector<Assign>{{"j5", 1, 2}}));
}

TEST_F(CoordinatorTest, WorkerSilentPastTheTimeoutGetsNothingUntilItReportsAgain) {
  lead(0);
  hear(1, 1, 0);
  commit(collect(0));  // slots
  submit("j1");
  Commands late = collect(6000);
  EXPECT_TRUE(assigns(late).empty()) << "assigned to a worker silent for 6 s";
  EXPECT_FALSE(coord_->worker_alive(1, at(6000)));

  // It comes back with the same slots: the job waits for it no longer.
  hear(1, 1, 7000);
  EXPECT_TRUE(coord_->worker_alive(1, at(7000)));
  EXPECT_EQ(assigns(collect(7000)), (std::vector<Assign>{{"j1", 1, 1}}));
}

TEST_F(CoordinatorTest, AssignmentsInFlightAreNotProposedTwiceBeforeTheyApply) {
  lead(0);
  hear(1, 4, 0);
  submit("j1");
  EXPECT_EQ(assigns(collect(0)), (std::vector<Assign>{{"j1", 1, 1}}));
  submit("j2");  // something applied: placement runs again
  EXPECT_EQ(assigns(collect(100)), (std::vector<Assign>{{"j2", 1, 1}}));
  hear(1, 4, 500);
  EXPECT_TRUE(assigns(collect(500)).empty());
  submit("j3");  // applied, but not the assignments
  EXPECT_EQ(assigns(collect(1900)), (std::vector<Assign>{{"j3", 1, 1}}));
}

TEST_F(CoordinatorTest, InFlightAssignmentsTakeSlots) {
  lead(0);
  hear(1, 1, 0);
  submit("j1");
  submit("j2");
  Commands c = collect(0);
  EXPECT_EQ(assigns(c), (std::vector<Assign>{{"j1", 1, 1}}));
  submit("j3");
  EXPECT_TRUE(assigns(collect(100)).empty()) << "the only slot is already being assigned";
  commit(c);
  EXPECT_TRUE(assigns(collect(200)).empty()) << "the only slot is taken";
}

TEST_F(CoordinatorTest, AWorkerIsGivenOneAttemptPerSlotBeyondItsSlotsToQueue) {
  Coordinator::Options o = defaults();
  o.queue_per_slot = 1;
  lead(0, o);
  hear(1, 2, 0);  // node 1, two slots: two run, two wait there
  for (const char* id : {"j1", "j2", "j3", "j4", "j5"}) submit(id);
  Commands c = collect(0);
  EXPECT_EQ(assigns(c).size(), 4u);
  commit(c);
  EXPECT_TRUE(assigns(collect(100)).empty()) << "slots and queue are full";
  // One finish frees one place: the fifth job goes to node 1's queue in the same command.
  hear(1, 2, 200, {}, {finished_msg("j1", 1, 1, wall(200), 0)});
  EXPECT_EQ(assigns(collect(200)), (std::vector<Assign>{{"j5", 1, 1}}));
}

TEST_F(CoordinatorTest, AReportedFinishFreesItsSlotInTheSameCommand) {
  lead(0);
  hear(1, 1, 0);
  submit("j1");
  submit("j2");
  commit(collect(0));
  ASSERT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_RUNNING);
  EXPECT_TRUE(assigns(collect(10)).empty()) << "the only slot is taken";

  // j1's process has exited: its finish and j2's assignment travel in one command.
  hear(1, 1, 20, {}, {finished_msg("j1", 1, 1, wall(20), 0)});
  Commands c = collect(20);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(finishes(c).size(), 1u);
  EXPECT_EQ(assigns(c), (std::vector<Assign>{{"j2", 1, 1}}));

  // Resent before it applied: the slot is not handed out twice.
  submit("j3");
  hear(1, 1, 30, {}, {finished_msg("j1", 1, 1, wall(20), 0)});
  EXPECT_TRUE(assigns(collect(30)).empty());
  commit(c);
  EXPECT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_COMPLETED);
  EXPECT_EQ(job("j2").status(), nomad_lite::JOB_STATUS_RUNNING);
  EXPECT_TRUE(assigns(collect(40)).empty()) << "j2 holds the slot now";
}

// --- placing jobs as they are submitted ---------------------------------------------------------

TEST_F(CoordinatorTest, ASubmissionIsPlacedInTheSameRoundWhenNothingWaits) {
  lead(0);
  hear(1, 1, 0);
  hear(2, 1, 0);
  auto placed =
      coord_->place_submitted(store_, {{"j1", ""}, {"j2", ""}, {"j3", ""}}, at(0), wall(0));
  ASSERT_TRUE(placed.has_value());
  // Two free slots: j3 waits for its submission to apply and for a slot.
  EXPECT_EQ(per_node(assigns({*placed})), (std::map<uint64_t, int>{{1, 1}, {2, 1}}));
  EXPECT_EQ(assigns({*placed}).size(), 2u);
  // The log holds the submissions, then the assignment: one commit runs them.
  commit(Commands{submit_cmd("j1"), submit_cmd("j2"), submit_cmd("j3"), *placed});
  EXPECT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_RUNNING);
  EXPECT_EQ(job("j2").status(), nomad_lite::JOB_STATUS_RUNNING);
  EXPECT_EQ(job("j3").status(), nomad_lite::JOB_STATUS_PENDING);
  EXPECT_TRUE(assigns(collect(10)).empty()) << "placed twice, or onto a full node";
  commit(finished_cmd("j1", 1, job("j1").node_id(), wall(20), 0));
  EXPECT_EQ(assigns(collect(20)).size(), 1u);  // j3 gets the freed slot
}

TEST_F(CoordinatorTest, ASubmissionCommittedBeforeItsAssignmentIsNotPlacedTwice) {
  lead(0);
  hear(1, 2, 0);
  auto placed = coord_->place_submitted(store_, {{"j1", ""}}, at(0), wall(0));
  ASSERT_TRUE(placed.has_value());
  // The submission commits a round before the assignment behind it.
  commit(submit_cmd("j1"));
  ASSERT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_PENDING);
  EXPECT_TRUE(assigns(collect(1)).empty()) << "its assignment is still in flight";
  commit(*placed);
  EXPECT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_RUNNING);
  EXPECT_TRUE(assigns(collect(2)).empty());
}

TEST_F(CoordinatorTest, AnAssignmentThatNeverAppliesIsProposedAgainAfterTwoSeconds) {
  lead(0);
  hear(1, 2, 0);
  auto placed = coord_->place_submitted(store_, {{"j1", ""}}, at(0), wall(0));
  ASSERT_TRUE(placed.has_value());
  commit(submit_cmd("j1"));  // the assignment is lost (a leadership change and back, say)
  EXPECT_TRUE(assigns(collect(1)).empty());
  hear(1, 2, 2500);
  EXPECT_EQ(assigns(collect(2500)), (std::vector<Assign>{{"j1", 1, 1}}));
}

TEST_F(CoordinatorTest, ASubmissionDoesNotJumpJobsThatWait) {
  lead(0);
  submit("old");  // no worker yet: it waits
  hear(1, 2, 0);
  EXPECT_FALSE(coord_->place_submitted(store_, {{"new", ""}}, at(0), wall(0)).has_value());
  EXPECT_EQ(assigns(collect(0)), (std::vector<Assign>{{"old", 1, 1}}));
  // Once every waiting job is being assigned, a newcomer may take a free slot at once.
  auto placed = coord_->place_submitted(store_, {{"new", ""}}, at(1), wall(1));
  ASSERT_TRUE(placed.has_value());
  EXPECT_EQ(assigns({*placed}), (std::vector<Assign>{{"new", 1, 1}}));
  EXPECT_FALSE(coord_->place_submitted(store_, {{"third", ""}}, at(2), wall(2)).has_value())
      << "both slots are being assigned";
}

TEST_F(CoordinatorTest, ARetriedSubmissionIsNotPlacedAgain) {
  lead(0);
  hear(1, 4, 0);
  submit("j1", Opt().key("k1"));
  commit(collect(0));
  ASSERT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_RUNNING);
  // The retry carries a new id that never becomes a job: assigning it would hold a slot.
  EXPECT_FALSE(coord_->place_submitted(store_, {{"j1-retry", "k1"}}, at(10), wall(10)).has_value());
  EXPECT_TRUE(coord_->place_submitted(store_, {{"j2", "k2"}}, at(10), wall(10)).has_value());
}

TEST_F(CoordinatorTest, OnlyTheLeaderPlacesSubmissions) {
  coord_ = std::make_unique<Coordinator>(defaults());
  EXPECT_FALSE(coord_->place_submitted(store_, {{"j1", ""}}, at(0), wall(0)).has_value());
  lead(0);
  hear(1, 1, 0);
  coord_->lose_leadership();
  EXPECT_FALSE(coord_->place_submitted(store_, {{"j1", ""}}, at(0), wall(0)).has_value());
}

TEST_F(CoordinatorTest, AssignmentsUnappliedAfterTwoSecondsAreProposedAgain) {
  lead(0);
  hear(1, 4, 0);
  submit("j1");
  Commands first = collect(0);
  EXPECT_EQ(assigns(first), (std::vector<Assign>{{"j1", 1, 1}}));
  EXPECT_TRUE(assigns(collect(2000)).empty());
  // The proposal was lost (say, refused during a leadership transfer). Nothing else happens
  // in the cluster, and still the job is placed again.
  Commands second = collect(2001);
  EXPECT_EQ(assigns(second), (std::vector<Assign>{{"j1", 1, 1}}));
  EXPECT_TRUE(assigns(collect(2100)).empty());
  commit(first);
  commit(second);  // the repeat changes nothing
  EXPECT_EQ(job("j1").attempts_size(), 1);
  EXPECT_TRUE(assigns(collect(3000)).empty());
}

// --- reports ------------------------------------------------------------------------------------

class ReportTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    lead(0);
    hear(1, 2, 0);
    submit("j1");
    commit(collect(0));
    ASSERT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_RUNNING);
    ASSERT_EQ(job("j1").node_id(), 1u);
  }
};

TEST_F(ReportTest, StartIsProposedOnceEvenWhenTheReportIsResent) {
  auto s = started_msg("j1", 1, 1, wall(90));
  for (int i = 0; i < 3; ++i) hear(1, 2, 100 + i, {s});
  Commands c = collect(110);
  EXPECT_EQ(starts(c), (std::vector<std::pair<std::string, uint32_t>>{{"j1", 1}}));
  hear(1, 2, 1000, {s});
  EXPECT_TRUE(collect(1000).empty()) << "proposed again while in flight";
  hear(1, 2, 2110, {s});
  EXPECT_TRUE(collect(2110).empty());

  commit(c);
  EXPECT_EQ(job("j1").started_at_ms(), wall(90));
  hear(1, 2, 2200, {s});
  EXPECT_TRUE(collect(2200).empty()) << "proposed again after it applied";
  hear(1, 2, 9000, {s});
  EXPECT_TRUE(collect(9000).empty());
}

TEST_F(ReportTest, StartUnappliedAfterTwoSecondsIsProposedAgainWhenResent) {
  auto s = started_msg("j1", 1, 1, wall(90));
  hear(1, 2, 100, {s});
  EXPECT_EQ(starts(collect(100)).size(), 1u);
  hear(1, 2, 2101, {s});
  EXPECT_EQ(starts(collect(2101)).size(), 1u);
}

TEST_F(ReportTest, FinishIsProposedOnceEvenWhenTheReportIsResent) {
  auto f = finished_msg("j1", 1, 1, wall(500), 0);
  for (int i = 0; i < 3; ++i) hear(1, 2, 600 + i, {}, {f});
  Commands c = collect(610);
  ASSERT_EQ(finishes(c).size(), 1u);
  EXPECT_EQ(finishes(c)[0].job_id(), "j1");
  hear(1, 2, 1000, {}, {f});
  EXPECT_TRUE(collect(1000).empty());

  commit(c);
  EXPECT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_COMPLETED);
  hear(1, 2, 1100, {}, {f});
  EXPECT_TRUE(collect(1100).empty()) << "proposed again after it applied";
  hear(1, 2, 5000, {}, {f});
  EXPECT_TRUE(collect(5000).empty());
}

TEST_F(ReportTest, FinishedReportForAStaleAttemptProposesNothing) {
  // Attempt 1 failed and attempt 2 runs on node 2 (from an earlier leader's log).
  commit(finished_cmd("j1", 1, 1, wall(100), 1));
  ASSERT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_FAILED);  // no retries
  submit("j2", Opt().retries(1));
  commit(assign_cmd("j2", 1, 1, wall(100)));
  commit(finished_cmd("j2", 1, 1, wall(100), 1));
  commit(assign_cmd("j2", 2, 2, wall(200)));
  ASSERT_EQ(job("j2").attempt(), 2u);
  hear(2, 2, 300);
  commit(collect(300));  // node 2's slots

  hear(1, 2, 400, {started_msg("j2", 1, 1, wall(50))},
       {finished_msg("j2", 1, 1, wall(400), 0),      // an earlier attempt
        finished_msg("j2", 2, 1, wall(400), 0),      // the current attempt, wrong node
        finished_msg("j1", 1, 1, wall(400), 0),      // a job already finished
        finished_msg("nope", 1, 1, wall(400), 0)});  // no such job
  EXPECT_TRUE(collect(400).empty());
}

TEST_F(ReportTest, StartReportForAnAttemptThatAlreadyEndedProposesNothing) {
  // The attempt was cancelled before its start was reported.
  commit(cancel_cmd("j1", wall(100)));
  ASSERT_EQ(job("j1").attempts(0).status(), nomad_lite::JOB_STATUS_CANCELLED);
  ASSERT_EQ(job("j1").attempts(0).started_at_ms(), 0);
  hear(1, 2, 200, {started_msg("j1", 1, 1, wall(50))});
  EXPECT_TRUE(collect(200).empty()) << "a start the store ignores was proposed";

  // The details of the cancelled attempt still are.
  hear(1, 2, 300, {}, {finished_msg("j1", 1, 1, wall(300), std::nullopt, "cancelled", 9)});
  EXPECT_EQ(finishes(collect(300)).size(), 1u);
}

TEST_F(ReportTest, ANodeCannotStartOrFinishAnotherNodesAttempt) {
  // j1 attempt 1 runs on node 1. Node 2 (a compromised node) reports on it, naming node 1 or
  // itself; node 1's own finish arrives in the same round and must be the one proposed.
  hear(2, 2, 100, {started_msg("j1", 1, 1, wall(90)), started_msg("j1", 1, 2, wall(90))});
  EXPECT_TRUE(starts(collect(100)).empty()) << "a start of another node's attempt was proposed";

  auto real = finished_msg("j1", 1, 1, wall(500), 0);
  auto forged = finished_msg("j1", 1, 1, wall(500), 7);
  forged.set_stdout_tail("forged");
  hear(1, 2, 600, {}, {real});
  hear(2, 2, 601, {}, {forged, finished_msg("j1", 1, 2, wall(500), 9)});
  Commands c = collect(610);
  ASSERT_EQ(finishes(c).size(), 1u);
  EXPECT_EQ(finishes(c)[0].exit_code(), 0) << "node 2's forged finish replaced node 1's";
  EXPECT_EQ(finishes(c)[0].stdout_tail(), "");

  hear(2, 2, 5000, {}, {forged});
  EXPECT_TRUE(collect(5000).empty());
  commit(c);
  EXPECT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_COMPLETED);
  EXPECT_EQ(job("j1").attempts(0).exit_code(), 0);
}

TEST_F(ReportTest, AForgedFinishAloneNeverCompletesTheJob) {
  hear(2, 2, 100, {}, {finished_msg("j1", 1, 1, wall(90), 0)});
  commit(collect(100));
  hear(2, 2, 3000, {}, {finished_msg("j1", 1, 1, wall(90), 0)});
  commit(collect(3000));
  EXPECT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_RUNNING);
}

// --- lost attempts ------------------------------------------------------------------------------

TEST_F(CoordinatorTest, SilentWorkerHasEachRunningAttemptDeclaredLostOnceThenRetried) {
  lead(0);
  hear(1, 2, 0);
  hear(2, 2, 0);
  for (auto id : {"a", "b", "c", "d"}) submit(id);
  commit(collect(0));
  auto on1 = running_ids(store_, 1);
  auto on2 = running_ids(store_, 2);
  ASSERT_EQ(on1.size(), 2u);
  ASSERT_EQ(on2.size(), 2u);
  for (int t = 1000; t <= 5000; t += 1000) hear(2, 2, t);  // node 1 falls silent after 0

  EXPECT_TRUE(finishes(collect(5000)).empty()) << "declared lost at exactly the timeout";
  EXPECT_TRUE(coord_->worker_alive(1, at(5000)));
  EXPECT_FALSE(coord_->worker_alive(1, at(5001)));
  Commands lost = collect(5001);
  auto f = finishes(lost);
  ASSERT_EQ(f.size(), 2u);
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT_EQ(f[i].job_id(), on1[i]);
    EXPECT_EQ(f[i].attempt(), 1u);
    EXPECT_EQ(f[i].node_id(), 1u);
    EXPECT_EQ(f[i].reason(), "lost");
    EXPECT_EQ(f[i].at_ms(), wall(5001));
    EXPECT_FALSE(f[i].has_exit_code());
  }
  EXPECT_TRUE(finishes(collect(5500)).empty()) << "lost proposed twice while in flight";
  hear(2, 2, 6000);
  EXPECT_TRUE(finishes(collect(7001)).empty());
  hear(2, 2, 7000);
  EXPECT_EQ(finishes(collect(7002)).size(), 2u) << "not proposed again after 2 s unapplied";

  commit(lost);
  for (const auto& id : on1) {
    EXPECT_EQ(job(id).status(), nomad_lite::JOB_STATUS_PENDING);
    EXPECT_EQ(job(id).attempts(0).reason(), "lost");
  }
  EXPECT_TRUE(finishes(collect(7003)).empty()) << "declared lost again after it applied";

  // Node 2's jobs end; the lost ones are retried at once, there and only there (node 3
  // never reported, node 1 is silent).
  for (const auto& id : on2) commit(finished_cmd(id, 1, 2, wall(7050), 0));
  Commands retry = collect(7100);
  auto a = assigns(retry);
  ASSERT_EQ(a.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(std::get<0>(a[i]), on1[i]);
    EXPECT_EQ(std::get<1>(a[i]), 2u);
    EXPECT_EQ(std::get<2>(a[i]), 2u);
  }
  commit(retry);
  for (const auto& id : on1) EXPECT_EQ(job(id).node_id(), 2u);
}

TEST_F(CoordinatorTest, WorkerThatKeepsReportingIsNeverDeclaredLost) {
  lead(0);
  hear(1, 1, 0);
  submit("j1");
  commit(collect(0));
  ASSERT_EQ(job("j1").node_id(), 1u);
  for (int t = 4000; t <= 60'000; t += 4000) {
    hear(1, 1, t);
    EXPECT_TRUE(finishes(collect(t)).empty()) << "at " << t;
    EXPECT_TRUE(finishes(collect(t + 3999)).empty()) << "at " << t + 3999;
  }
  EXPECT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_RUNNING);
}

TEST_F(CoordinatorTest, NewLeaderWaitsOneTimeoutBeforeDeclaringAnythingLost) {
  // Attempts assigned long ago by an earlier leader; this one takes over at steady 100 s.
  submit("old1");
  submit("old2");
  commit(assign_cmd("old1", 1, 1, wall(-3'600'000)));
  commit(assign_cmd("old2", 1, 2, wall(-3'600'000)));
  lead(100'000);

  EXPECT_TRUE(finishes(collect(100'000)).empty());
  hear(2, 1, 103'000);
  EXPECT_TRUE(finishes(collect(105'000)).empty()) << "declared lost within the grace period";
  Commands c = collect(105'001);
  auto f = finishes(c);
  ASSERT_EQ(f.size(), 1u);  // node 2 reported at 103 s: it has until 108 s
  EXPECT_EQ(f[0].job_id(), "old1");
  EXPECT_EQ(f[0].reason(), "lost");
  commit(c);
  EXPECT_TRUE(finishes(collect(108'000)).empty());
  f = finishes(collect(108'001));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].job_id(), "old2");
}

// --- lost attempts under the workers' lease -----------------------------------------------------

Coordinator::Options with_grace() {
  Coordinator::Options o;
  o.self = 1;
  o.nodes = {1, 2, 3};
  o.worker_timeout = std::chrono::milliseconds(5000);
  o.kill_grace = std::chrono::milliseconds(2000);
  o.lost_drift = std::chrono::milliseconds(500);
  o.queue_per_slot = 0;
  return o;
}

TEST_F(CoordinatorTest, AStoppedJobIsLostOnlyAfterTimeoutPlusKillGracePlusDrift) {
  lead(0, with_grace());
  hear(1, 2, 0);
  submit("stop");
  submit("keep", Opt().keep_running());
  commit(collect(0));
  ASSERT_EQ(job("stop").node_id(), 1u);
  ASSERT_EQ(job("keep").node_id(), 1u);
  hear(1, 2, 1000);  // the last contact: the timings count from here

  EXPECT_TRUE(finishes(collect(6000)).empty()) << "lost at exactly the timeout";
  Commands keep_lost = collect(6001);
  auto f = finishes(keep_lost);
  ASSERT_EQ(f.size(), 1u) << "keep-running: lost after the worker timeout alone";
  EXPECT_EQ(f[0].job_id(), "keep");
  commit(keep_lost);
  // The worker stops "stop" by 1000 + 5000 - margin and kills it 2000 later: not before
  // 8500 is its attempt declared lost.
  EXPECT_TRUE(finishes(collect(8500)).empty()) << "declared lost while it may still run";
  f = finishes(collect(8501));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].job_id(), "stop");
  EXPECT_EQ(f[0].reason(), "lost");
  EXPECT_EQ(f[0].error(), "node 1 stopped reporting for 7500 ms");
}

TEST_F(CoordinatorTest, ANewLeaderCountsTimeoutPlusGraceFromWhenItBecameLeader) {
  submit("old");
  commit(assign_cmd("old", 1, 2, wall(-3'600'000)));
  lead(100'000, with_grace());
  EXPECT_TRUE(finishes(collect(107'500)).empty());
  auto f = finishes(collect(107'501));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].job_id(), "old");
}

TEST_F(CoordinatorTest, AReportWithinTimeoutPlusGraceKeepsAStoppedJobRunning) {
  lead(0, with_grace());
  hear(1, 1, 0);
  submit("j");
  commit(collect(0));
  hear(1, 1, 7000);  // back after 7 s: the worker may have stopped it; its report will say so
  EXPECT_TRUE(finishes(collect(14'000)).empty());
  EXPECT_EQ(job("j").status(), nomad_lite::JOB_STATUS_RUNNING);
}

// --- retention ----------------------------------------------------------------------------------

class RetentionTest : public CoordinatorTest {
 protected:
  // Runs `id` to completion on node 1, finishing at wall `finished_wall_ms`.
  void finish(const std::string& id, int64_t finished_wall_ms) {
    submit(id);
    commit(assign_cmd(id, 1, 1, finished_wall_ms - 10));
    commit(finished_cmd(id, 1, 1, finished_wall_ms, 0));
    ASSERT_EQ(job(id).status(), nomad_lite::JOB_STATUS_COMPLETED);
  }
};

TEST_F(RetentionTest, RetainJobsRemovesTheOldestFinishedAtMostOncePerSecond) {
  auto o = defaults();
  o.retain_jobs = 2;
  // Finished out of submission order: the oldest finish goes first.
  finish("f3", wall(-30));
  finish("f1", wall(-50));
  finish("f5", wall(-10));
  finish("f2", wall(-40));
  finish("f4", wall(-20));
  lead(0, o);

  Commands c = collect(0);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(removals(c), (std::vector<std::string>{"f1", "f2", "f3"}));
  EXPECT_TRUE(collect(500).empty()) << "retention ran twice within a second";
  EXPECT_TRUE(collect(999).empty());
  EXPECT_EQ(removals(collect(1000)), (std::vector<std::string>{"f1", "f2", "f3"}));  // unapplied
  commit(c);
  EXPECT_EQ(store_.size(), 2u);
  EXPECT_TRUE(collect(2000).empty());
  EXPECT_TRUE(collect(3000).empty());
}

TEST_F(RetentionTest, RetainForRemovesJobsFinishedBeforeTheCutoff) {
  auto o = defaults();
  o.retain_for = std::chrono::hours(1);
  const int64_t hour = 3'600'000;
  finish("ancient", wall(-2 * hour));
  finish("old", wall(-hour - 1));
  finish("edge", wall(-hour));  // exactly at the cutoff: kept
  finish("recent", wall(-1000));
  lead(0, o);
  EXPECT_EQ(removals(collect(0)), (std::vector<std::string>{"ancient", "old"}));
  // A second later the cutoff has moved past "edge".
  EXPECT_EQ(removals(collect(1000)), (std::vector<std::string>{"ancient", "old", "edge"}));
}

TEST_F(RetentionTest, RunningAndPendingJobsAreNeverRemoved) {
  auto o = defaults();
  o.retain_jobs = 0;
  o.retain_for = std::chrono::milliseconds(0);
  submit("pending");
  submit("running");
  commit(assign_cmd("running", 1, 1, wall(-7 * 24 * 3'600'000LL)));
  finish("done", wall(-100));
  submit("cancelled");
  commit(cancel_cmd("cancelled", wall(-50)));
  lead(0, o);
  hear(1, 0, 0);  // keeps "running" alive; no slots so "pending" stays pending
  Commands c = collect(0);
  EXPECT_EQ(removals(c), (std::vector<std::string>{"done", "cancelled"}));
  commit(c);
  EXPECT_NE(store_.find("pending"), nullptr);
  EXPECT_NE(store_.find("running"), nullptr);
  EXPECT_EQ(store_.size(), 2u);
  EXPECT_TRUE(removals(collect(5000)).empty());
}

TEST_F(RetentionTest, CancelledPeriodicJobsGoByTheSameRulesAsFinishedJobs) {
  auto o = defaults();
  o.retain_jobs = 1;
  o.retain_for = std::chrono::hours(1);
  const int64_t hour = 3'600'000;
  auto periodic = [&](const std::string& id, std::optional<int64_t> cancelled_at) {
    nomad_lite::Command create;
    auto* p = create.mutable_periodic_create();
    p->set_id(id);
    p->set_every_ms(3'600'000);
    p->mutable_child()->set_command("true");
    p->set_created_at_ms(wall(-3 * hour));
    commit(create);
    if (!cancelled_at) return;
    nomad_lite::Command cancel;
    cancel.mutable_periodic_control()->set_periodic_id(id);
    cancel.mutable_periodic_control()->set_action(nomad_lite::PERIODIC_CANCEL);
    cancel.mutable_periodic_control()->set_at_ms(*cancelled_at);
    commit(cancel);
  };
  periodic("p-active", std::nullopt);
  periodic("p-old", wall(-2 * hour));          // cancelled before the cutoff
  periodic("p-recent-1", wall(-20 * 60'000));  // within the hour, but beyond retain_jobs 1
  periodic("p-recent-2", wall(-10 * 60'000));  // the newest cancellation: kept
  lead(0, o);
  Commands c = collect(0);
  ASSERT_EQ(c.size(), 1u);
  const auto& ids = c[0].remove().periodic_ids();
  EXPECT_EQ(std::vector<std::string>(ids.begin(), ids.end()),
            (std::vector<std::string>{"p-old", "p-recent-1"}));
  commit(c);
  EXPECT_EQ(store_.find_periodic("p-old"), nullptr);
  EXPECT_EQ(store_.find_periodic("p-recent-1"), nullptr);
  EXPECT_NE(store_.find_periodic("p-recent-2"), nullptr);
  EXPECT_NE(store_.find_periodic("p-active"), nullptr);
  EXPECT_TRUE(collect(1000).empty());
}

// --- retry backoff ------------------------------------------------------------------------------

TEST_F(CoordinatorTest, FailedJobWaitsForItsBackoffBeforeBeingAssigned) {
  lead(0);
  hear(1, 1, 0);
  submit("j1", Opt().retries(1));
  commit(collect(0));
  hear(1, 1, 100, {}, {finished_msg("j1", 1, 1, wall(100), 1)});
  commit(collect(100));
  ASSERT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_PENDING);
  const int64_t not_before = job("j1").not_before_ms();
  ASSERT_EQ(not_before, wall(100) + jobs::retry_backoff_ms(2));
  const int64_t wakeup = not_before - kWall0;  // the steady ms at which the backoff ends

  EXPECT_TRUE(assigns(collect(150)).empty()) << "assigned during its backoff";
  hear(1, 1, 600);
  EXPECT_TRUE(assigns(collect(600)).empty());
  EXPECT_TRUE(assigns(collect(wakeup - 1)).empty());
  // Nothing else happens: the coordinator wakes placement up on its own.
  Commands c = collect(wakeup);
  EXPECT_EQ(assigns(c), (std::vector<Assign>{{"j1", 2, 1}}));
  commit(c);
  EXPECT_EQ(job("j1").status(), nomad_lite::JOB_STATUS_RUNNING);
  EXPECT_EQ(job("j1").attempt(), 2u);
}

}  // namespace coordinator_test
}  // namespace nomad::node
