// The store's totals (jobs submitted, jobs finished, jobs by status): the dashboard's rates are
// differences of them, so they must only grow, survive snapshots, and ignore retention.

#include <gtest/gtest.h>

#include "support/job_commands.h"

namespace nomad::jobs::testing {
namespace {

uint64_t count(const JobStore& store, nomad_lite::JobStatus status) {
  return store.totals().by_status[status];
}

TEST(JobTotals, CountSubmissionsOnceAndEveryWayAJobEnds) {
  Replica r;
  r.apply(slots_cmd({{1, 4}}));
  for (const char* id : {"a", "b", "c", "d"}) r.apply(submit_cmd(id));
  r.apply(submit_cmd("a2", Opt().key("k")));
  r.apply(submit_cmd("a3", Opt().key("k")));  // the same key: no second job
  EXPECT_EQ(r.store().totals().submitted, 5u);
  EXPECT_EQ(count(r.store(), nomad_lite::JOB_STATUS_PENDING), 5u);

  r.apply(assign_cmd("a", 1, 1, 10));
  r.apply(assign_cmd("b", 1, 1, 10));
  r.apply(assign_cmd("c", 1, 1, 10));
  EXPECT_EQ(count(r.store(), nomad_lite::JOB_STATUS_RUNNING), 3u);
  r.apply(finished_cmd("a", 1, 1, 20, 0));                    // completed
  r.apply(finished_cmd("b", 1, 1, 20, 3));                    // failed, no retries
  r.apply(cancel_cmd("c", 20));                               // cancelled while running
  r.apply(finished_cmd("c", 1, 1, 21, {}, "cancelled", 15));  // its process ends: no new end
  r.apply(cancel_cmd("d", 20));                               // cancelled while pending
  r.apply(cancel_cmd("d", 21));  // already finished: refused, counts nothing

  const JobTotals& t = r.store().totals();
  EXPECT_EQ(t.submitted, 5u);
  EXPECT_EQ(t.finished, 4u);
  EXPECT_EQ(t.by_status[nomad_lite::JOB_STATUS_PENDING], 1u);
  EXPECT_EQ(t.by_status[nomad_lite::JOB_STATUS_RUNNING], 0u);
  EXPECT_EQ(t.by_status[nomad_lite::JOB_STATUS_COMPLETED], 1u);
  EXPECT_EQ(t.by_status[nomad_lite::JOB_STATUS_FAILED], 1u);
  EXPECT_EQ(t.by_status[nomad_lite::JOB_STATUS_CANCELLED], 2u);
}

TEST(JobTotals, ARetriedAttemptIsNotAnEnd) {
  Replica r;
  r.apply(slots_cmd({{1, 1}}));
  r.apply(submit_cmd("a", Opt().retries(1)));
  r.apply(assign_cmd("a", 1, 1, 10));
  r.apply(finished_cmd("a", 1, 1, 20, 1));  // failed, will be retried
  EXPECT_EQ(r.store().totals().finished, 0u);
  EXPECT_EQ(count(r.store(), nomad_lite::JOB_STATUS_PENDING), 1u);
  r.apply(assign_cmd("a", 2, 1, 2000));
  r.apply(finished_cmd("a", 2, 1, 2010, 0));
  EXPECT_EQ(r.store().totals().finished, 1u);
  EXPECT_EQ(count(r.store(), nomad_lite::JOB_STATUS_COMPLETED), 1u);
}

TEST(JobTotals, RetentionLowersTheStatusCountsButNotTheTotals) {
  Replica r;
  r.apply(submit_cmd("a"));
  r.apply(cancel_cmd("a", 5));
  r.apply(remove_cmd({"a"}));
  EXPECT_EQ(r.store().totals().submitted, 1u);
  EXPECT_EQ(r.store().totals().finished, 1u);
  EXPECT_EQ(count(r.store(), nomad_lite::JOB_STATUS_CANCELLED), 0u);
}

TEST(JobTotals, SurviveASnapshot) {
  Replica r;
  r.apply(submit_cmd("a"));
  r.apply(submit_cmd("b"));
  r.apply(cancel_cmd("a", 5));
  r.apply(remove_cmd({"a"}));
  JobStore copy;
  ASSERT_TRUE(copy.restore(r.store().snapshot()));
  EXPECT_EQ(copy.totals().submitted, 2u);
  EXPECT_EQ(copy.totals().finished, 1u);
  EXPECT_EQ(copy.totals().by_status[nomad_lite::JOB_STATUS_PENDING], 1u);
  EXPECT_EQ(copy.totals().by_status[nomad_lite::JOB_STATUS_CANCELLED], 0u);
}

}  // namespace
}  // namespace nomad::jobs::testing
