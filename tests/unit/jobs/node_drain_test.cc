// Drain and eligibility as the job store applies them: an ineligible node gets no attempt,
// an attempt ended as "drained" is run again at once without using a retry, a drain ends only
// for the drain it names and only when its node is empty, and all of it is in snapshots.

#include <gtest/gtest.h>

#include <string>

#include "jobs/failure_reason.h"
#include "jobs/scheduler.h"
#include "support/job_commands.h"
#include "support/node_scheduling_commands.h"

namespace nomad::jobs::testing {
namespace {

std::vector<WorkerView> alive(std::initializer_list<std::pair<uint64_t, uint32_t>> nodes) {
  std::vector<WorkerView> out;
  for (auto [id, slots] : nodes) out.push_back({.node_id = id, .slots = slots, .alive = true});
  return out;
}

TEST(NodeDrain, EveryNodeIsEligibleUntilToldOtherwise) {
  Replica r;
  EXPECT_TRUE(r.store().eligible(1));
  EXPECT_TRUE(r.store().node_scheduling().empty());
  EXPECT_FALSE(r.store().scheduling_of(7).ineligible());
  EXPECT_EQ(r.store().scheduling_of(7).node_id(), 7u);
}

TEST(NodeDrain, PlacementSkipsAnIneligibleNodeWhateverItsFreeSlots) {
  Replica r;
  r.apply(slots_cmd({{1, 4}, {2, 1}}));
  r.apply(eligibility_cmd(1, false));
  for (auto id : {"a", "b", "c"}) r.apply(submit_cmd(id));
  Placement p = place(r.store(), alive({{1, 4}, {2, 1}}), 0, {});
  ASSERT_EQ(p.assign.size(), 1u) << "node 2 has one slot; node 1's four are not offered";
  EXPECT_EQ(p.assign[0].node_id(), 2u);
  auto submitted = place_submitted(r.store(), alive({{1, 4}, {2, 1}}), {"x", "y"});
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(submitted[0].node_id(), 2u);

  r.apply(eligibility_cmd(1, true));
  EXPECT_TRUE(r.store().eligible(1));
  EXPECT_TRUE(r.store().node_scheduling().empty()) << "an eligible node is not listed";
  EXPECT_EQ(place(r.store(), alive({{1, 4}, {2, 1}}), 0, {}).assign.size(), 3u);
}

TEST(NodeDrain, AnAssignmentThatAppliesAfterTheDrainIsRefusedAndTheJobStaysPending) {
  // Placed from a state before the drain applied, committed after it.
  Replica r;
  r.apply(submit_cmd("a"));
  r.apply(drain_cmd(1, 0));
  r.store().take_changes();
  r.apply(assign_cmd("a", 1, 1, 100));
  EXPECT_EQ(r.job("a").status(), nomad_lite::JOB_STATUS_PENDING);
  EXPECT_EQ(r.job("a").attempts_size(), 0);
  EXPECT_EQ(r.store().take_changes(), std::vector<std::string>{"a"})
      << "reported changed, so the leader places it again at once";
  r.apply(assign_cmd("a", 1, 2, 100));
  EXPECT_EQ(r.job("a").node_id(), 2u);
}

TEST(NodeDrain, ADrainedAttemptRunsAgainWithoutUsingARetry) {
  Replica r;
  r.apply(submit_cmd("a", Opt().retries(0).lost_retries(0)));
  r.apply(assign_cmd("a", 1, 1, 100));
  r.apply(started_cmd("a", 1, 1, 110));
  r.apply(drain_cmd(1, 5000, 200));
  auto drained = finished_msg("a", 1, 1, 5000, std::nullopt, "drained");
  drained.set_rerun_not_before_ms(8000);
  r.apply(finished_cmd(drained));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), nomad_lite::JOB_STATUS_PENDING) << "retries 0 and lost_retries 0";
  EXPECT_EQ(job.not_before_ms(), 8000) << "no backoff: only the wait the leader set";
  EXPECT_EQ(job.node_id(), 0u);
  EXPECT_EQ(job.attempts(0).reason(), "drained");
  EXPECT_EQ(job.attempts(0).status(), nomad_lite::JOB_STATUS_FAILED);

  // It is drained again and again: still no retry used. Then a real failure uses the one
  // retry the job has, and the next ends it.
  r.apply(assign_cmd("a", 2, 2, 5100));
  r.apply(finished_cmd("a", 2, 2, 5200, std::nullopt, "drained"));
  EXPECT_EQ(r.job("a").status(), nomad_lite::JOB_STATUS_PENDING);
  r.apply(assign_cmd("a", 3, 3, 5300));
  r.apply(finished_cmd("a", 3, 3, 5400, 1));
  EXPECT_EQ(r.job("a").status(), nomad_lite::JOB_STATUS_FAILED)
      << "retries 0: the first failure of its own ends it, the drained attempts did not count";
  EXPECT_EQ(r.job("a").reason(), "exit_code");
}

TEST(NodeDrain, DrainedAttemptsDoNotCountAgainstLostRetriesEither) {
  Replica r;
  r.apply(submit_cmd("a", Opt().retries(0).lost_retries(1)));
  r.apply(assign_cmd("a", 1, 1, 100));
  r.apply(finished_cmd("a", 1, 1, 200, std::nullopt, "drained"));
  r.apply(assign_cmd("a", 2, 2, 300));
  r.apply(finished_cmd("a", 2, 2, 400, std::nullopt, "lost"));
  EXPECT_EQ(r.job("a").status(), nomad_lite::JOB_STATUS_PENDING) << "one lost retry left";
  r.apply(assign_cmd("a", 3, 2, 5000));
  r.apply(finished_cmd("a", 3, 2, 5100, std::nullopt, "lost"));
  EXPECT_EQ(r.job("a").status(), nomad_lite::JOB_STATUS_FAILED);
  EXPECT_EQ(r.job("a").reason(), "lost");
}

TEST(NodeDrain, ADrainEndsOnlyWhenItsNodeIsEmptyAndOnlyForTheDrainItNames) {
  Replica r;
  r.apply(submit_cmd("a"));
  r.apply(assign_cmd("a", 1, 1, 100));
  r.apply(drain_cmd(1, 0, 200));
  const uint64_t first = r.last_index();
  EXPECT_TRUE(r.store().scheduling_of(1).draining());
  EXPECT_EQ(r.store().scheduling_of(1).drain_index(), first);
  EXPECT_EQ(r.store().scheduling_of(1).drain_started_ms(), 200);

  r.apply(drained_cmd(1, first, 300));
  EXPECT_TRUE(r.store().scheduling_of(1).draining()) << "job a still runs there";

  r.apply(finished_cmd("a", 1, 1, 400, 0));
  r.apply(drain_cmd(1, 9000, 500));  // the operator drains again: a new drain
  const uint64_t second = r.last_index();
  r.apply(drained_cmd(1, first, 600));
  EXPECT_TRUE(r.store().scheduling_of(1).draining()) << "a verdict about the earlier drain";
  EXPECT_EQ(r.store().scheduling_of(1).drain_deadline_ms(), 9000);

  r.apply(drained_cmd(1, second, 700));
  const auto n = r.store().scheduling_of(1);
  EXPECT_FALSE(n.draining());
  EXPECT_TRUE(n.ineligible()) << "a drained node stays ineligible until told otherwise";
  EXPECT_EQ(n.drained_at_ms(), 700);
  EXPECT_EQ(n.drain_deadline_ms(), 0);
}

TEST(NodeDrain, EligibilityOnCancelsADrainAndALateVerdictChangesNothing) {
  Replica r;
  r.apply(drain_cmd(2, 0, 100));
  const uint64_t drain = r.last_index();
  r.apply(eligibility_cmd(2, true));
  r.apply(drained_cmd(2, drain, 200));
  EXPECT_TRUE(r.store().eligible(2));
  EXPECT_FALSE(r.store().scheduling_of(2).draining());
  EXPECT_EQ(r.store().scheduling_of(2).drained_at_ms(), 0);
}

TEST(NodeDrain, EligibilityOffLeavesADrainInProgressAsItIs) {
  Replica r;
  r.apply(drain_cmd(2, 4000, 100));
  r.apply(eligibility_cmd(2, false));
  EXPECT_TRUE(r.store().scheduling_of(2).draining());
  EXPECT_EQ(r.store().scheduling_of(2).drain_deadline_ms(), 4000);
}

TEST(NodeDrain, NodeZeroIsRefused) {
  Replica r;
  ApplyResult result = r.apply(drain_cmd(0, 0));
  EXPECT_FALSE(result.status.is_ok());
  EXPECT_TRUE(r.store().node_scheduling().empty());
}

TEST(NodeDrain, PendingReasonSaysWhenNoEligibleNodeIsLeft) {
  Replica r;
  r.apply(slots_cmd({{1, 2}, {2, 2}}));
  r.apply(submit_cmd("a"));
  r.apply(drain_cmd(1, 0));
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 0), "waiting to be placed");
  r.apply(eligibility_cmd(2, false));
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 0),
            "no eligible node: every node that runs jobs is drained or ineligible (nomad-lite "
            "node eligibility ID on)");
  EXPECT_TRUE(place(r.store(), alive({{1, 2}, {2, 2}}), 0, {}).assign.empty());
}

TEST(NodeDrain, TheBusySlotsOfAnIneligibleNodeDoNotCountInThePendingReason) {
  Replica r;
  r.apply(slots_cmd({{1, 1}, {2, 1}}));
  r.apply(submit_cmd("a"));
  r.apply(submit_cmd("b"));
  r.apply(assign_cmd("a", 1, 1, 100));
  r.apply(eligibility_cmd(1, false));
  EXPECT_EQ(r.store().pending_reason(r.job("b"), 0), "waiting to be placed");
}

TEST(NodeDrain, SchedulingSurvivesASnapshotRoundTrip) {
  Replica r;
  r.apply(submit_cmd("a"));
  r.apply(assign_cmd("a", 1, 3, 100));
  r.apply(drain_cmd(3, 7000, 200));
  r.apply(eligibility_cmd(2, false));
  r.apply(drain_cmd(4, 0, 300));
  r.apply(drained_cmd(4, r.last_index(), 400));

  JobStore copy;
  ASSERT_TRUE(copy.restore(r.store().snapshot()).is_ok());
  ASSERT_EQ(copy.node_scheduling().size(), 3u);
  for (uint64_t node : {2, 3, 4}) {
    EXPECT_EQ(copy.scheduling_of(node).SerializeAsString(),
              r.store().scheduling_of(node).SerializeAsString())
        << "node " << node;
  }
  EXPECT_TRUE(copy.scheduling_of(3).draining());
  EXPECT_EQ(copy.scheduling_of(3).drain_deadline_ms(), 7000);
  EXPECT_EQ(copy.scheduling_of(4).drained_at_ms(), 400);
  EXPECT_FALSE(copy.eligible(2));
  EXPECT_TRUE(copy.eligible(1));

  // A restore replaces the scheduling too: none is left over from before.
  JobStore fresh;
  ASSERT_TRUE(copy.restore(fresh.snapshot()).is_ok());
  EXPECT_TRUE(copy.node_scheduling().empty());
}

TEST(NodeDrain, ReplicasApplyingTheSameLogAgree) {
  Replica a;
  a.apply(slots_cmd({{1, 1}, {2, 1}}));
  a.apply(submit_cmd("x"));
  a.apply(drain_cmd(1, 0));
  a.apply(assign_cmd("x", 1, 1, 10));  // refused on both
  a.apply(assign_cmd("x", 1, 2, 20));
  JobStore b;
  for (const auto& e : a.log()) b.apply(e);
  EXPECT_EQ(canonical_snapshot(a.store()), canonical_snapshot(b));
}

}  // namespace
}  // namespace nomad::jobs::testing
