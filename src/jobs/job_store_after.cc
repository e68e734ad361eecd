// Jobs that wait for jobs (job submit --after): a job names existing jobs that must complete
// before it runs. Until then it stays pending outside the placement queue; when one of them
// fails or is cancelled it ends failed, reason dependency_failed, without running. A job can
// name only jobs that exist when it is submitted, so no cycle can form.

#include "jobs/job_metrics.h"
#include "jobs/job_store.h"

namespace nomad::jobs {

namespace {
constexpr const char* kDependencyFailed = "dependency_failed";
}  // namespace

const nomad_lite::Job* JobStore::first_unmet(const nomad_lite::Job& job) const {
  for (const auto& id : job.after()) {
    const nomad_lite::Job* dependency = find(id);
    if (dependency && !is_final(dependency->status())) return dependency;
  }
  return nullptr;
}

std::string JobStore::check_after(const nomad_lite::Job& job,
                                  const nomad_lite::Job** failed) const {
  *failed = nullptr;
  for (const auto& id : job.after()) {
    const nomad_lite::Job* dependency = find(id);
    if (!dependency) {
      return "after: no job " + id + " (a job can wait only for jobs submitted before it)";
    }
    if (!*failed && is_final(dependency->status()) &&
        dependency->status() != nomad_lite::JOB_STATUS_COMPLETED) {
      *failed = dependency;
    }
  }
  return "";
}

void JobStore::fail_for_dependency(nomad_lite::Job& job, const nomad_lite::Job& dependency,
                                   int64_t at_ms) {
  job.set_status(nomad_lite::JOB_STATUS_FAILED);
  job.set_reason(kDependencyFailed);
  job.set_error(
      "job " + dependency.id() + " it waited for " +
      (dependency.status() == nomad_lite::JOB_STATUS_CANCELLED ? "was cancelled" : "failed"));
  job.set_pending_reason("");
  job.set_finished_at_ms(at_ms);
  ++totals_.finished;
  note_finished(nomad_lite::JOB_STATUS_FAILED);
}

void JobStore::resolve_dependents() {
  // A worklist, not recursion: a failure may cascade down a long chain of jobs.
  for (size_t next = 0; next < ended_with_waiters_.size(); ++next) {
    const std::string ended_id = ended_with_waiters_[next];
    auto waiting = waiting_on_.find(ended_id);
    const nomad_lite::Job* ended = find(ended_id);
    if (waiting == waiting_on_.end() || !ended) continue;
    const std::set<std::string> dependents = waiting->second;  // edit() changes the index
    const nomad_lite::Job ended_job = *ended;
    for (const auto& id : dependents) {
      auto job = edit(id);
      if (!job) continue;
      if (ended_job.status() != nomad_lite::JOB_STATUS_COMPLETED) {
        fail_for_dependency(*job, ended_job, ended_job.finished_at_ms());
        record({.kind = JobEvent::Kind::kFailed, .job_id = id, .reason = job->reason()});
      }
      put(std::move(job));  // completed: placed once nothing else it waits for is unfinished
    }
  }
  ended_with_waiters_.clear();
}

}  // namespace nomad::jobs
