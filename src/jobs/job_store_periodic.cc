// The job store's periodic jobs (jobs/periodic.h): creation, the leader's tick decisions,
// pause/resume/cancel/run-now, and the bookkeeping of their children.
//
// Exactly once: a tick is taken only if it is later than the job's last handled tick, and
// the child's id is the periodic id and the tick. A decision proposed twice (a new leader, a
// retried proposal) or applied again (a replayed log after a snapshot) changes nothing.

#include <algorithm>

#include "jobs/job_store.h"
#include "jobs/periodic.h"

namespace nomad::jobs {

const nomad_lite::PeriodicJob* JobStore::find_periodic(const std::string& id) const {
  auto it = periodic_.find(id);
  return it == periodic_.end() ? nullptr : &it->second;
}

ApplyResult JobStore::periodic_create(const nomad_lite::PeriodicJob& created) {
  if (created.id().empty()) return {Status::error("periodic job id is empty"), {}};
  if (auto it = periodic_.find(created.id()); it != periodic_.end()) {
    // A retried creation (its answer was lost) gets the job it created.
    if (!created.idempotency_key().empty() &&
        it->second.idempotency_key() == created.idempotency_key()) {
      return {Status::ok(), {}, it->second};
    }
    return {Status::error("periodic job id " + created.id() + " already exists"), {}, it->second};
  }
  nomad_lite::PeriodicJob& p = periodic_[created.id()];
  p = created;
  // Ticks count from its creation: nothing before it is due.
  p.set_last_tick_ms(created.created_at_ms());
  if (p.keep_runs() == 0) p.set_keep_runs(kDefaultKeepRuns);
  ++periodic_version_;
  return {Status::ok(), {}, p};
}

ApplyResult JobStore::periodic_ticks(const nomad_lite::PeriodicTicks& ticks, raft::Index index) {
  auto it = periodic_.find(ticks.periodic_id());
  if (it == periodic_.end()) return {Status::error("no periodic job " + ticks.periodic_id()), {}};
  nomad_lite::PeriodicJob& p = it->second;
  if (p.paused() || p.cancelled()) {
    return {Status::error("periodic job " + p.id() + " is paused or cancelled"), {}, p};
  }
  // The guard that makes each tick happen at most once: only ticks later than the last one
  // handled are taken. A decision made from a stale state (a new leader's) may name ticks an
  // entry before it handled; the rest of it still counts, so no tick goes unaccounted.
  const int64_t after = p.last_tick_ms();
  std::vector<int64_t> missed;
  for (int64_t t : ticks.missed_ms()) {
    if (t > after) missed.push_back(t);
  }
  const bool run = ticks.run_ms() > after;
  if (missed.empty() && !run) {
    return {Status::error("periodic job " + p.id() + ": its ticks up to " + std::to_string(after) +
                          " were already handled"),
            {},
            p};
  }
  std::sort(missed.begin(), missed.end());
  for (int64_t t : missed) record_not_run(p, t, nomad_lite::PERIODIC_RUN_MISSED, ticks.at_ms());
  p.set_last_tick_ms(
      std::max(missed.empty() ? after : missed.back(), run ? ticks.run_ms() : after));
  ++periodic_version_;
  if (!run) return {Status::ok(), {}, p};
  const int64_t tick = ticks.run_ms();
  std::vector<std::string> unfinished;
  for (const auto& run : p.runs()) {
    const nomad_lite::Job* child = find(run.job_id());
    if (child && !is_final(child->status())) unfinished.push_back(run.job_id());
  }
  if (!unfinished.empty() && p.overlap() == nomad_lite::OVERLAP_SKIP) {
    record_not_run(p, tick, nomad_lite::PERIODIC_RUN_SKIPPED, ticks.at_ms());
    return {Status::ok(), {}, p};
  }
  if (p.overlap() == nomad_lite::OVERLAP_CANCEL) {
    for (const auto& id : unfinished) {
      nomad_lite::CancelJobCommand cancel_previous;
      cancel_previous.set_job_id(id);
      cancel_previous.set_at_ms(ticks.at_ms());
      cancel(cancel_previous);  // updates the run through note_child_ended
    }
  }
  return launch_child(p, tick_child_id(p.id(), tick), tick, ticks.at_ms(), index);
}

ApplyResult JobStore::periodic_control(const nomad_lite::PeriodicControl& control,
                                       raft::Index index) {
  auto it = periodic_.find(control.periodic_id());
  if (it == periodic_.end()) {
    return {Status::error("no periodic job " + control.periodic_id()), {}};
  }
  nomad_lite::PeriodicJob& p = it->second;
  if (p.cancelled()) {
    return {Status::error("periodic job " + p.id() + " was cancelled; submit a new one"), {}, p};
  }
  switch (control.action()) {
    case nomad_lite::PERIODIC_PAUSE:
      p.set_paused(true);
      break;
    case nomad_lite::PERIODIC_RESUME:
      if (p.paused()) {
        // The ticks of the pause are not run later: the next one is the first after now.
        p.set_paused(false);
        p.set_last_tick_ms(std::max(p.last_tick_ms(), control.at_ms()));
      }
      break;
    case nomad_lite::PERIODIC_CANCEL:
      p.set_cancelled(true);
      break;
    case nomad_lite::PERIODIC_RUN_NOW: {
      p.set_run_now(p.run_now() + 1);
      ++periodic_version_;
      return launch_child(p, run_now_child_id(p.id(), p.run_now()), 0, control.at_ms(), index);
    }
    default:
      return {Status::error("unknown periodic action " + std::to_string(control.action())), {}, p};
  }
  p.set_changed_at_ms(control.at_ms());
  ++periodic_version_;
  return {Status::ok(), {}, p};
}

ApplyResult JobStore::launch_child(nomad_lite::PeriodicJob& p, const std::string& id,
                                   int64_t tick_ms, int64_t at_ms, raft::Index index) {
  nomad_lite::SubmitJobCommand submit_child;
  nomad_lite::Job* child = submit_child.mutable_job();
  *child = p.child();
  child->set_id(id);
  child->set_created_at_ms(at_ms);
  child->set_periodic_id(p.id());
  child->set_tick_ms(tick_ms);
  if (tick_ms != 0) {
    submit_child.set_idempotency_key("periodic:" + p.id() + ":" + std::to_string(tick_ms));
  }
  ApplyResult result = submit(&submit_child, index);
  if (!result.status) {
    result.periodic = p;
    return result;
  }
  p.set_launched(p.launched() + 1);
  auto* run = p.add_runs();
  run->set_tick_ms(tick_ms);
  run->set_kind(nomad_lite::PERIODIC_RUN_LAUNCHED);
  run->set_job_id(id);
  run->set_status(nomad_lite::JOB_STATUS_PENDING);
  run->set_at_ms(at_ms);
  // Retention: the oldest children beyond keep_runs go, once finished (one still running
  // stays until the store's own retention takes it).
  const int excess = p.runs_size() - static_cast<int>(p.keep_runs());
  if (excess > 0) {
    nomad_lite::RemoveJobs old;
    for (int i = 0; i < excess; ++i) old.add_job_ids(p.runs(i).job_id());
    p.mutable_runs()->DeleteSubrange(0, excess);
    remove(old);
  }
  result.periodic = p;
  return result;
}

void JobStore::record_not_run(nomad_lite::PeriodicJob& p, int64_t tick_ms,
                              nomad_lite::PeriodicRunKind kind, int64_t at_ms) {
  if (kind == nomad_lite::PERIODIC_RUN_SKIPPED) {
    p.set_skipped(p.skipped() + 1);
  } else {
    p.set_missed(p.missed() + 1);
  }
  auto* run = p.add_not_run();
  run->set_tick_ms(tick_ms);
  run->set_kind(kind);
  run->set_at_ms(at_ms);
  if (p.not_run_size() > static_cast<int>(kMaxNotRunKept)) {
    p.mutable_not_run()->DeleteSubrange(0, p.not_run_size() - static_cast<int>(kMaxNotRunKept));
  }
}

void JobStore::note_child_ended(const nomad_lite::Job& child) {
  auto it = periodic_.find(child.periodic_id());
  if (it == periodic_.end()) return;
  nomad_lite::PeriodicJob& p = it->second;
  // Newest first: the child that ended is almost always among the last.
  for (int i = p.runs_size() - 1; i >= 0; --i) {
    auto* run = p.mutable_runs(i);
    if (run->job_id() != child.id()) continue;
    if (is_final(run->status())) return;  // counted already
    run->set_status(child.status());
    switch (child.status()) {
      case nomad_lite::JOB_STATUS_COMPLETED:
        p.set_completed(p.completed() + 1);
        break;
      case nomad_lite::JOB_STATUS_FAILED:
        p.set_failed(p.failed() + 1);
        break;
      default:
        p.set_cancelled_runs(p.cancelled_runs() + 1);
    }
    return;
  }
}

}  // namespace nomad::jobs
