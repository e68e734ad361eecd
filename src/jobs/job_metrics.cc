#include "jobs/job_metrics.h"

#include <algorithm>

#include "jobs/job_store.h"
#include "metrics/by_code.h"
#include "metrics/registry.h"

namespace nomad::jobs {
namespace {

struct JobMetrics {
  metrics::Registry& r = metrics::default_registry();
  metrics::Histogram& placement =
      r.histogram("nomad_lite_scheduler_placement_duration_seconds",
                  "Time from a job's submission to the placement of its first attempt.",
                  metrics::buckets::job_wait_seconds())
          .get();
  metrics::Histogram& submit_to_start =
      r.histogram("nomad_lite_jobs_submit_to_start_seconds",
                  "Time from a job's submission to the start of its first attempt.",
                  metrics::buckets::job_wait_seconds())
          .get();
  metrics::Histogram& run_duration =
      r.histogram("nomad_lite_jobs_run_duration_seconds",
                  "Run time of each attempt that started, from its start to its end.",
                  metrics::buckets::job_run_seconds())
          .get();
  metrics::CounterByCode finished{
      r.counter("nomad_lite_jobs_finished_total",
                "Jobs that became final, by final status (applied state).", {"status"}),
      {},
      nomad_lite::JobStatus_MAX,
      [](int s) { return std::string(status_name(static_cast<nomad_lite::JobStatus>(s))); }};
  metrics::Counter& retried =
      r.counter("nomad_lite_jobs_retried_total",
                "Failed or lost attempts after which the job went back to pending for another.")
          .get();
  metrics::Counter& lost =
      r.counter("nomad_lite_jobs_lost_total",
                "Attempts that ended lost with their node (the node died, was cut off or "
                "killed them).")
          .get();
};

JobMetrics& job_metrics() {
  static JobMetrics* m = new JobMetrics();  // never destroyed: threads may outlive main
  return *m;
}

double seconds_between(int64_t from_ms, int64_t to_ms) {
  // Clocks of different nodes may disagree by a little: never a negative time.
  return static_cast<double>(std::max<int64_t>(to_ms - from_ms, 0)) / 1000.0;
}

}  // namespace

void note_placed(const nomad_lite::Job& job, int64_t at_ms) {
  if (job.created_at_ms() > 0 && at_ms > 0) {
    job_metrics().placement.observe(seconds_between(job.created_at_ms(), at_ms));
  }
}

void note_first_start(const nomad_lite::Job& job, int64_t at_ms) {
  if (job.created_at_ms() > 0 && at_ms > 0) {
    job_metrics().submit_to_start.observe(seconds_between(job.created_at_ms(), at_ms));
  }
}

void note_attempt_ended(const nomad_lite::Attempt& attempt) {
  if (attempt.started_at_ms() > 0 && attempt.finished_at_ms() > 0) {
    job_metrics().run_duration.observe(
        seconds_between(attempt.started_at_ms(), attempt.finished_at_ms()));
  }
}

void note_finished(nomad_lite::JobStatus status) { job_metrics().finished.at(status).inc(); }
void note_retried() { job_metrics().retried.inc(); }
void note_lost() { job_metrics().lost.inc(); }

}  // namespace nomad::jobs
