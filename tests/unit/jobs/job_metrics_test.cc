// What the job store counts and times for GET /metrics as it applies commands.

#include "jobs/job_metrics.h"

#include <gtest/gtest.h>

#include "jobs/job_store.h"
#include "metrics/registry.h"
#include "support/job_commands.h"

namespace nomad::jobs {
namespace {

using namespace nomad::jobs::testing;

// The value of one series in the default registry's text ("" when absent).
double value_of(const std::string& series) {
  std::string text = metrics::default_registry().render();
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(JobMetrics, ApplyCountsFinishesRetriesAndLostAttemptsAndTimesThem) {
  const double completed = value_of("nomad_lite_jobs_finished_total{status=\"completed\"}");
  const double failed = value_of("nomad_lite_jobs_finished_total{status=\"failed\"}");
  const double cancelled = value_of("nomad_lite_jobs_finished_total{status=\"cancelled\"}");
  const double retried = value_of("nomad_lite_jobs_retried_total");
  const double lost = value_of("nomad_lite_jobs_lost_total");
  const double placed = value_of("nomad_lite_scheduler_placement_duration_seconds_count");
  const double placed_sum = value_of("nomad_lite_scheduler_placement_duration_seconds_sum");
  const double runs = value_of("nomad_lite_jobs_run_duration_seconds_count");
  const double runs_sum = value_of("nomad_lite_jobs_run_duration_seconds_sum");
  const double starts = value_of("nomad_lite_jobs_submit_to_start_seconds_count");

  Replica r;
  // a: submitted at 1 s, placed at 1.5 s, started at 2 s, completed at 5 s.
  r.apply(submit_cmd("a"));
  r.apply(assign_cmd("a", 1, 1, 1500));
  r.apply(started_cmd("a", 1, 1, 2000));
  r.apply(finished_cmd("a", 1, 1, 5000, 0));
  // b: its first attempt lost with its node (retried), its second fails for good.
  r.apply(submit_cmd("b", Opt().lost_retries(1)));
  r.apply(assign_cmd("b", 1, 2, 1100));
  r.apply(finished_cmd("b", 1, 2, 1200, std::nullopt, "lost"));
  r.apply(assign_cmd("b", 2, 1, 9000));
  r.apply(finished_cmd("b", 2, 1, 9500, 3));
  // c: cancelled while pending.
  r.apply(submit_cmd("c"));
  r.apply(cancel_cmd("c", 3000));

  EXPECT_EQ(value_of("nomad_lite_jobs_finished_total{status=\"completed\"}"), completed + 1);
  EXPECT_EQ(value_of("nomad_lite_jobs_finished_total{status=\"failed\"}"), failed + 1);
  EXPECT_EQ(value_of("nomad_lite_jobs_finished_total{status=\"cancelled\"}"), cancelled + 1);
  EXPECT_EQ(value_of("nomad_lite_jobs_retried_total"), retried + 1);
  EXPECT_EQ(value_of("nomad_lite_jobs_lost_total"), lost + 1);
  // First placements only: a after 0.5 s, b after 0.1 s (its second attempt is not one).
  EXPECT_EQ(value_of("nomad_lite_scheduler_placement_duration_seconds_count"), placed + 2);
  EXPECT_NEAR(value_of("nomad_lite_scheduler_placement_duration_seconds_sum") - placed_sum, 0.6,
              1e-9);
  // Attempts that ran: a for 3 s, b's second for 0 s (its finish carried no start, so the
  // store records it as started when it finished); the lost one never started.
  EXPECT_EQ(value_of("nomad_lite_jobs_run_duration_seconds_count"), runs + 2);
  EXPECT_NEAR(value_of("nomad_lite_jobs_run_duration_seconds_sum") - runs_sum, 3.0, 1e-9);
  EXPECT_EQ(value_of("nomad_lite_jobs_submit_to_start_seconds_count"), starts + 1);
}

}  // namespace
}  // namespace nomad::jobs
