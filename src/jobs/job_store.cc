#include "jobs/job_store.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <tuple>

#include "jobs/job_metrics.h"

namespace nomad::jobs {

const char* status_name(nomad_lite::JobStatus status) {
  switch (status) {
    case nomad_lite::JOB_STATUS_PENDING:
      return "pending";
    case nomad_lite::JOB_STATUS_RUNNING:
      return "running";
    case nomad_lite::JOB_STATUS_COMPLETED:
      return "completed";
    case nomad_lite::JOB_STATUS_FAILED:
      return "failed";
    case nomad_lite::JOB_STATUS_CANCELLED:
      return "cancelled";
    default:
      return "unknown";
  }
}

bool is_final(nomad_lite::JobStatus status) {
  return status == nomad_lite::JOB_STATUS_COMPLETED || status == nomad_lite::JOB_STATUS_FAILED ||
         status == nomad_lite::JOB_STATUS_CANCELLED;
}

int64_t retry_backoff_ms(uint32_t next_attempt) {
  // 1 s, 2 s, 4 s, ... at most 30 s.
  uint32_t shift = next_attempt >= 2 ? std::min<uint32_t>(next_attempt - 2, 5) : 0;
  return std::min<int64_t>(int64_t{1000} << shift, 30'000);
}

bool is_node_fault(const std::string& reason) {
  FailureReason parsed;
  return failure_reason_from_name(reason, &parsed) && is_node_fault(parsed);
}

int64_t lost_retry_backoff_ms(uint32_t lost_so_far) {
  // 1 s, 2 s, 4 s, ... at most 30 s.
  uint32_t shift = lost_so_far >= 1 ? std::min<uint32_t>(lost_so_far - 1, 5) : 0;
  return std::min<int64_t>(int64_t{1000} << shift, 30'000);
}

namespace {

// A pending job's place in the queue. QueueKey::neg_priority sorts higher priorities first;
// ~priority (= -priority - 1) reverses the order like -priority would, but without the
// overflow of -INT32_MIN (undefined; in practice it stayed INT32_MIN and put the lowest
// priority first).
QueueKey queue_key(const nomad_lite::Job& job) { return {~job.priority(), job.submit_index()}; }

}  // namespace

ApplyResult JobStore::apply(const raft::Entry& entry) {
  ApplyResult result = apply_command(entry);
  if (!ended_with_waiters_.empty()) resolve_dependents();
  return result;
}

ApplyResult JobStore::apply_command(const raft::Entry& entry) {
  if (entry.type != raft::EntryType::kNormal) return {};
  nomad_lite::Command command;
  if (!command.ParseFromString(entry.data)) {
    // Every node skips the same unreadable entry, so the replicas stay identical.
    return {Status::error("unreadable command at index " + std::to_string(entry.index)), {}};
  }
  switch (command.kind_case()) {
    case nomad_lite::Command::kSubmit:
      return submit(command.mutable_submit(), entry.index);
    case nomad_lite::Command::kCancel:
      return cancel(command.cancel());
    case nomad_lite::Command::kUpdates:
      return updates(command.updates());
    case nomad_lite::Command::kRemove:
      return remove(command.remove());
    case nomad_lite::Command::kNodeScheduling:
      return set_node_scheduling(command.node_scheduling(), entry.index);
    case nomad_lite::Command::kNodeDrained:
      return node_drained(command.node_drained());
    case nomad_lite::Command::kAgentRegistered:
      return agent_registered(command.agent_registered());
    case nomad_lite::Command::kAgentForgotten:
      return agent_forgotten(command.agent_forgotten());
    case nomad_lite::Command::kPeriodicCreate:
      return periodic_create(command.periodic_create());
    case nomad_lite::Command::kPeriodicTicks:
      return periodic_ticks(command.periodic_ticks(), entry.index);
    case nomad_lite::Command::kPeriodicControl:
      return periodic_control(command.periodic_control(), entry.index);
    default:
      return {Status::error("unknown command at index " + std::to_string(entry.index)), {}};
  }
}

void JobStore::reserve(size_t jobs) {
  jobs_.reserve(jobs);
  idempotency_keys_.reserve(jobs);
}

std::shared_ptr<nomad_lite::Job> JobStore::edit(const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return nullptr;
  unindex(*it->second);
  return std::make_shared<nomad_lite::Job>(*it->second);
}

void JobStore::put(std::shared_ptr<nomad_lite::Job> job) {
  if (is_final(job->status()) && waiting_on_.count(job->id())) {
    ended_with_waiters_.push_back(job->id());
  }
  index(*job);
  changes_.push_back(job->id());
  by_submit_index_.put(job);
  jobs_[job->id()] = std::move(job);
}

void JobStore::index(const nomad_lite::Job& job) {
  ++totals_.by_status[job.status()];
  switch (job.status()) {
    case nomad_lite::JOB_STATUS_PENDING:
      if (!job.after().empty() && first_unmet(job)) {
        for (const auto& dependency : job.after()) {
          const nomad_lite::Job* d = find(dependency);
          if (d && !is_final(d->status())) waiting_on_[dependency].insert(job.id());
        }
      } else {
        pending_[queue_key(job)] = job.id();
      }
      break;
    case nomad_lite::JOB_STATUS_RUNNING:
      running_[job.node_id()].insert(job.id());
      if (job.has_resources()) reserved_[job.node_id()].add(usage_of(job.resources()));
      break;
    default:
      finished_.insert({job.finished_at_ms(), job.id()});
  }
}

void JobStore::unindex(const nomad_lite::Job& job) {
  --totals_.by_status[job.status()];
  switch (job.status()) {
    case nomad_lite::JOB_STATUS_PENDING:
      pending_.erase(queue_key(job));
      for (const auto& dependency : job.after()) {
        auto it = waiting_on_.find(dependency);
        if (it == waiting_on_.end()) continue;
        it->second.erase(job.id());
        if (it->second.empty()) waiting_on_.erase(it);
      }
      break;
    case nomad_lite::JOB_STATUS_RUNNING: {
      auto it = running_.find(job.node_id());
      if (it != running_.end()) {
        it->second.erase(job.id());
        if (it->second.empty()) running_.erase(it);
      }
      if (auto r = reserved_.find(job.node_id()); r != reserved_.end() && job.has_resources()) {
        r->second.remove(usage_of(job.resources()));
        if (r->second.empty()) reserved_.erase(r);
      }
      break;
    }
    default:
      finished_.erase({job.finished_at_ms(), job.id()});
  }
}

ApplyResult JobStore::submit(nomad_lite::SubmitJobCommand* command, raft::Index index) {
  // Two hash lookups per submission, each finding or making its slot: with hundreds of
  // thousands of jobs every lookup is a few cache misses on the loop thread.
  const std::string& key = command->idempotency_key();
  std::unordered_map<std::string, std::string>::iterator key_slot;
  if (!key.empty()) {
    bool new_key = false;
    std::tie(key_slot, new_key) = idempotency_keys_.try_emplace(key);
    // A retried submission (say, after a leader change) gets the job it created the first time.
    if (!new_key) return {Status::ok(), *jobs_.at(key_slot->second)};
  }
  auto [job_slot, new_id] = jobs_.try_emplace(command->job().id());
  if (!new_id) {
    if (!key.empty()) idempotency_keys_.erase(key_slot);
    return {Status::error("job id " + command->job().id() + " already exists"), {}};
  }
  const nomad_lite::Job* failed_dependency = nullptr;
  if (std::string why = check_after(command->job(), &failed_dependency); !why.empty()) {
    jobs_.erase(job_slot);
    if (!key.empty()) idempotency_keys_.erase(key_slot);
    return {Status::error(why), {}};
  }
  // The command was parsed for this call only: its job moves into the store uncopied.
  auto job = std::make_shared<nomad_lite::Job>(std::move(*command->mutable_job()));
  job->set_status(nomad_lite::JOB_STATUS_PENDING);
  job->set_submit_index(index);
  job->set_idempotency_key(key);
  if (failed_dependency) fail_for_dependency(*job, *failed_dependency, job->created_at_ms());
  if (!key.empty()) key_slot->second = job->id();
  ApplyResult result{Status::ok(), *job};
  this->index(*job);
  changes_.push_back(job->id());
  by_submit_index_.put(job);
  record({.kind = JobEvent::Kind::kSubmitted, .job_id = job->id()});
  if (failed_dependency) {
    record({.kind = JobEvent::Kind::kFailed, .job_id = job->id(), .reason = job->reason()});
  }
  job_slot->second = std::move(job);
  ++totals_.submitted;
  return result;
}

ApplyResult JobStore::cancel(const nomad_lite::CancelJobCommand& command) {
  auto it = jobs_.find(command.job_id());
  if (it == jobs_.end()) return {Status::error("no job " + command.job_id()), {}};
  const nomad_lite::Job& current = *it->second;
  if (is_final(current.status())) {
    return {Status::error("job " + current.id() + " already finished (" +
                          status_name(current.status()) +
                          "); only pending or running jobs can be cancelled"),
            current};
  }
  auto job = edit(command.job_id());
  job->set_status(nomad_lite::JOB_STATUS_CANCELLED);
  job->set_finished_at_ms(command.at_ms());
  job->set_pending_reason("");
  if (job->attempts_size() > 0) {
    // The worker sees the job is final and kills the process; its report then only adds the
    // attempt's exit details.
    auto* attempt = job->mutable_attempts(job->attempts_size() - 1);
    if (attempt->status() == nomad_lite::JOB_STATUS_RUNNING) {
      attempt->set_status(nomad_lite::JOB_STATUS_CANCELLED);
      attempt->set_finished_at_ms(command.at_ms());
    }
  }
  ApplyResult result{Status::ok(), *job};
  record({.kind = JobEvent::Kind::kCancelled,
          .job_id = job->id(),
          .attempt = job->attempt(),
          .node = job->node_id()});
  if (!job->periodic_id().empty()) note_child_ended(*job);
  put(std::move(job));
  ++totals_.finished;
  note_finished(nomad_lite::JOB_STATUS_CANCELLED);
  return result;
}

ApplyResult JobStore::updates(const nomad_lite::JobUpdates& updates) {
  for (const auto& s : updates.slots()) node_slots_[s.node_id()] = s.slots();
  for (const auto& s : updates.slots()) {
    if (s.has_capacity()) node_capacity_[s.node_id()] = s.capacity();
  }
  for (const auto& a : updates.assign()) assign(a, updates.at_ms());
  for (const auto& s : updates.started()) started(s);
  for (const auto& f : updates.finished()) finished(f);
  return {};
}

void JobStore::assign(const nomad_lite::AssignJob& a, int64_t at_ms) {
  const nomad_lite::Job* current = find(a.job_id());
  // Only a pending job gets its next attempt; anything else is a stale or repeated proposal.
  if (!current || current->status() != nomad_lite::JOB_STATUS_PENDING ||
      a.attempt() != static_cast<uint32_t>(current->attempts_size()) + 1) {
    return;
  }
  if (first_unmet(*current)) {
    // Placed with its submission (Coordinator::place_submitted) though it waits for another
    // job (--after): it stays pending, reported changed so the leader drops the placement.
    changes_.push_back(a.job_id());
    return;
  }
  if (!eligible(a.node_id())) {
    // Placed before the node's drain (or eligibility off) applied: the job stays pending, and
    // is reported changed so the leader places it again at once.
    changes_.push_back(a.job_id());
    return;
  }
  auto job = edit(a.job_id());
  auto* attempt = job->add_attempts();
  attempt->set_number(a.attempt());
  attempt->set_node_id(a.node_id());
  attempt->set_status(nomad_lite::JOB_STATUS_RUNNING);
  attempt->set_assigned_at_ms(at_ms);
  job->set_status(nomad_lite::JOB_STATUS_RUNNING);
  job->set_attempt(a.attempt());
  job->set_node_id(a.node_id());
  job->set_started_at_ms(0);
  job->set_pending_reason("");
  job->set_not_before_ms(0);
  // The job's own result fields describe its current attempt: a new one starts clean (the
  // earlier results stay in `attempts`).
  job->clear_exit_code();
  job->set_signal(0);
  job->set_error("");
  job->clear_stdout_tail();
  job->clear_stderr_tail();
  job->set_stdout_truncated(false);
  job->set_stderr_truncated(false);
  record({.kind = JobEvent::Kind::kPlaced,
          .job_id = job->id(),
          .attempt = a.attempt(),
          .node = a.node_id()});
  if (a.attempt() == 1) note_placed(*job, at_ms);
  put(std::move(job));
}

const nomad_lite::Attempt* last_attempt(const nomad_lite::Job* job) {
  if (!job || job->attempts_size() == 0) return nullptr;
  return &job->attempts(job->attempts_size() - 1);
}

const nomad_lite::Attempt* find_attempt(const nomad_lite::Job* job, uint32_t number) {
  if (!job) return nullptr;
  for (const auto& attempt : job->attempts()) {
    if (attempt.number() == number) return &attempt;
  }
  return nullptr;
}

const nomad_lite::Attempt* running_attempt(const nomad_lite::Job* job, uint32_t number) {
  const nomad_lite::Attempt* last = last_attempt(job);
  if (!last || last->number() != number || last->status() != nomad_lite::JOB_STATUS_RUNNING) {
    return nullptr;
  }
  return last;
}

namespace {

// The job's current attempt if the report is about it, else null (a stale report).
const nomad_lite::Attempt* reported_attempt(const nomad_lite::Job* job, uint32_t number,
                                            uint64_t node) {
  const nomad_lite::Attempt* last = last_attempt(job);
  if (!last || last->number() != number || last->node_id() != node) return nullptr;
  return last;
}

}  // namespace

bool would_apply(const nomad_lite::Job* job, const nomad_lite::JobStarted& report) {
  const auto* attempt = reported_attempt(job, report.attempt(), report.node_id());
  // A start reported after the attempt ended (say, after it was declared lost) changes nothing.
  return attempt && attempt->started_at_ms() == 0 &&
         attempt->status() == nomad_lite::JOB_STATUS_RUNNING;
}

bool would_apply(const nomad_lite::Job* job, const nomad_lite::JobFinished& report) {
  const auto* attempt = reported_attempt(job, report.attempt(), report.node_id());
  if (!attempt) return false;
  // A cancelled attempt still takes its process's exit details, once.
  return attempt->status() == nomad_lite::JOB_STATUS_RUNNING ||
         (attempt->status() == nomad_lite::JOB_STATUS_CANCELLED && !attempt->has_exit_code() &&
          attempt->signal() == 0);
}

// The last attempt's process started at `at_ms`; the job mirrors its attempt.
void JobStore::mark_started(nomad_lite::Job& job, uint32_t attempt, uint64_t node, int64_t at_ms) {
  job.mutable_attempts(job.attempts_size() - 1)->set_started_at_ms(at_ms);
  job.set_started_at_ms(at_ms);
  record({.kind = JobEvent::Kind::kStarted, .job_id = job.id(), .attempt = attempt, .node = node});
  if (job.attempts_size() == 1) note_first_start(job, at_ms);
}

void JobStore::started(const nomad_lite::JobStarted& s) {
  if (!would_apply(find(s.job_id()), s)) return;
  auto job = edit(s.job_id());
  mark_started(*job, s.attempt(), s.node_id(), s.at_ms());
  put(std::move(job));
}

void JobStore::finished(const nomad_lite::JobFinished& f) {
  if (!would_apply(find(f.job_id()), f)) return;  // stale, or already reported

  auto job = edit(f.job_id());
  auto* attempt = job->mutable_attempts(job->attempts_size() - 1);
  if (f.has_exit_code()) attempt->set_exit_code(f.exit_code());
  attempt->set_signal(f.signal());
  attempt->set_error(f.error());
  attempt->set_peak_memory_bytes(f.peak_memory_bytes());
  attempt->set_cpu_time_ms(f.cpu_time_ms());
  // "" in a report: the process's own exit. Any other text a report may carry (no worker of
  // ours sends one) is recorded as it came and counts against --retries.
  FailureReason reported = FailureReason::kExitCode;
  const bool known = f.reason().empty() || failure_reason_from_name(f.reason(), &reported);
  // A lost, disconnected or unspawned attempt tells nothing of a start.
  const bool tells_no_start =
      known && (is_node_fault(reported) || reported == FailureReason::kSpawnError ||
                reported == FailureReason::kDrained);
  if (attempt->started_at_ms() == 0 && !tells_no_start) {
    // The process ran but its start was never reported (a short job's start travels with its
    // finish): the job mirrors its attempt.
    mark_started(*job, f.attempt(), f.node_id(),
                 f.started_at_ms() > 0 ? f.started_at_ms() : f.at_ms());
  }
  job->set_stdout_tail(f.stdout_tail());
  job->set_stderr_tail(f.stderr_tail());
  job->set_stdout_truncated(f.stdout_truncated());
  job->set_stderr_truncated(f.stderr_truncated());
  if (f.has_exit_code()) {
    job->set_exit_code(f.exit_code());
  } else {
    job->clear_exit_code();
  }
  job->set_signal(f.signal());
  job->set_error(f.error());

  if (job->status() == nomad_lite::JOB_STATUS_CANCELLED) {
    // The process of a cancelled job ended: only its details are recorded.
    put(std::move(job));
    return;
  }

  // Killed without a cancel: the node gave it up.
  if (reported == FailureReason::kKilled) reported = FailureReason::kLost;
  bool success = f.reason().empty() && f.has_exit_code() && f.exit_code() == 0;
  const std::string reason = known ? failure_reason_name(reported) : f.reason();
  attempt->set_finished_at_ms(f.at_ms());
  attempt->set_status(success ? nomad_lite::JOB_STATUS_COMPLETED : nomad_lite::JOB_STATUS_FAILED);
  if (!success) attempt->set_reason(reason);
  note_attempt_ended(*attempt);
  if (reported == FailureReason::kLost && known) note_lost();

  // Attempts that ended with their node (lost, or stopped by a worker cut off from the
  // leader) are retried up to --lost-retries, with a backoff of their own: a fault that
  // persists should not use up the job's attempts at once. Every other failure counts
  // against --retries.
  // Attempts ended by a drain count against neither: the operator, not the job, stopped them.
  const bool node_fault = known && is_node_fault(reported);
  const bool drained = known && reported == FailureReason::kDrained;
  uint32_t used = 0;  // failed attempts of the same kind, this one included
  for (const auto& a : job->attempts()) {
    if (a.status() == nomad_lite::JOB_STATUS_FAILED && !is_drained(a.reason()) &&
        is_node_fault(a.reason()) == node_fault) {
      ++used;
    }
  }
  const uint32_t allowed = node_fault ? job->lost_retries() : job->retries();
  if (drained) {
    // Run again elsewhere (its node is ineligible, so placement picks another) once the
    // drained process is certainly dead.
    note_retried();
    job->set_status(nomad_lite::JOB_STATUS_PENDING);
    job->set_node_id(0);
    job->set_not_before_ms(f.rerun_not_before_ms());
  } else if (success) {
    job->set_status(nomad_lite::JOB_STATUS_COMPLETED);
    job->set_reason("");
    job->set_finished_at_ms(f.at_ms());
    ++totals_.finished;
    note_finished(nomad_lite::JOB_STATUS_COMPLETED);
  } else if (used <= allowed) {
    note_retried();
    job->set_status(nomad_lite::JOB_STATUS_PENDING);
    job->set_node_id(0);
    job->set_not_before_ms(f.at_ms() + (node_fault ? lost_retry_backoff_ms(used)
                                                   : retry_backoff_ms(job->attempts_size() + 1)));
  } else {
    job->set_status(nomad_lite::JOB_STATUS_FAILED);
    job->set_reason(reason);
    job->set_finished_at_ms(f.at_ms());
    ++totals_.finished;
    note_finished(nomad_lite::JOB_STATUS_FAILED);
  }
  if (events_) {
    JobEvent::Kind kind = success      ? JobEvent::Kind::kCompleted
                          : node_fault ? JobEvent::Kind::kLost
                          : job->status() == nomad_lite::JOB_STATUS_PENDING
                              ? JobEvent::Kind::kRetried
                              : JobEvent::Kind::kFailed;
    JobEvent event{.kind = kind,
                   .job_id = job->id(),
                   .attempt = f.attempt(),
                   .node = f.node_id(),
                   .signal = f.signal(),
                   .reason = success ? std::string() : reason,
                   .retry = job->status() == nomad_lite::JOB_STATUS_PENDING};
    if (f.has_exit_code()) event.exit_code = f.exit_code();
    events_->push_back(std::move(event));
  }
  if (!job->periodic_id().empty() && is_final(job->status())) note_child_ended(*job);
  put(std::move(job));
}

ApplyResult JobStore::remove(const nomad_lite::RemoveJobs& command) {
  for (const auto& id : command.job_ids()) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || !is_final(it->second->status())) continue;  // only finished jobs
    unindex(*it->second);
    by_submit_index_.erase(it->second->submit_index());
    if (!it->second->idempotency_key().empty()) {
      idempotency_keys_.erase(it->second->idempotency_key());
    }
    changes_.push_back(id);
    jobs_.erase(it);
  }
  for (const auto& id : command.periodic_ids()) {
    auto it = periodic_.find(id);
    if (it == periodic_.end() || !it->second.cancelled()) continue;  // only cancelled ones
    periodic_.erase(it);
    ++periodic_version_;
  }
  return {};
}

size_t JobStore::running_on(uint64_t node) const {
  auto it = running_.find(node);
  return it == running_.end() ? 0 : it->second.size();
}

const std::set<std::string>* JobStore::running_jobs_on(uint64_t node) const {
  auto it = running_.find(node);
  return it == running_.end() ? nullptr : &it->second;
}

std::string JobStore::pending_reason(const nomad_lite::Job& job, int64_t now_ms) const {
  if (job.status() != nomad_lite::JOB_STATUS_PENDING) return "";
  if (const nomad_lite::Job* dependency = first_unmet(job)) {
    return "waiting for job " + dependency->id();
  }
  // A backoff comes after a failed attempt; a snapshot may still hold one without it.
  if (job.not_before_ms() > now_ms && job.attempts_size() > 0) {
    const auto& last = job.attempts(job.attempts_size() - 1);
    return "attempt " + std::to_string(last.number()) + " failed (" + last.reason() +
           "); retrying in " + std::to_string((job.not_before_ms() - now_ms + 999) / 1000) + "s";
  }
  uint64_t slots = 0, nodes = 0, ineligible = 0;
  for (const auto& [node, n] : node_slots_) {
    if (!eligible(node)) {
      ineligible += n > 0;
      continue;
    }
    slots += n;
    nodes += n > 0;
  }
  if (node_slots_.empty()) return "waiting for a worker to report to the leader";
  if (slots == 0 && ineligible > 0) {
    return "no eligible node: every node that runs jobs is drained or ineligible (nomad-lite "
           "node eligibility ID on)";
  }
  if (slots == 0) return "no node runs jobs: every node has --worker-slots 0";
  const Needs needs = needs_of(job);
  const bool asks =
      !needs.usage.empty() || !needs.constraints.empty() || !needs.bad_constraint.empty();
  if (asks) {
    std::vector<NodeRoom> rooms = node_rooms();
    if (std::string why = unfit_reason(needs, rooms); !why.empty()) return why;
    size_t fitting = 0;
    bool free_slot = false;
    for (const auto& room : rooms) {
      if (!room.matches(needs) || !room.has_room(needs)) continue;
      ++fitting;
      free_slot = free_slot || room.free_slots > 0;
    }
    if (!free_slot) {
      return "waiting for a free slot on the " + std::to_string(fitting) +
             (fitting == 1 ? " node" : " nodes") + " with room for it";
    }
  }
  uint64_t busy = 0;
  for (const auto& [node, ids] : running_) {
    if (eligible(node)) busy += ids.size();
  }
  if (busy >= slots) {
    return "waiting for a free slot: all " + std::to_string(slots) + " slots on " +
           std::to_string(nodes) + " nodes are busy";
  }
  return "waiting to be placed";
}

const nomad_lite::NodeCapacity* JobStore::capacity_of(uint64_t node) const {
  auto it = node_capacity_.find(node);
  return it == node_capacity_.end() ? nullptr : &it->second;
}

Usage JobStore::reserved_on(uint64_t node) const {
  auto it = reserved_.find(node);
  return it == reserved_.end() ? Usage{} : it->second;
}

std::vector<NodeRoom> JobStore::node_rooms() const {
  std::vector<NodeRoom> rooms;
  for (const auto& [node, slots] : node_slots_) {
    if (slots == 0 || !eligible(node)) continue;
    NodeRoom room;
    room.node_id = node;
    room.capacity = capacity_of(node);
    room.free_slots = static_cast<int64_t>(slots) - static_cast<int64_t>(running_on(node));
    if (room.capacity) {
      Usage used = reserved_on(node);
      room.free.millicores = to_millicores(room.capacity->cpu()) - used.millicores;
      uint64_t memory = room.capacity->memory_bytes();
      room.free.memory_bytes = memory - std::min(memory, used.memory_bytes);
    }
    rooms.push_back(room);
  }
  return rooms;
}

std::vector<std::string> JobStore::take_changes() {
  std::vector<std::string> out;
  out.swap(changes_);
  return out;
}

const nomad_lite::Job* JobStore::find(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const nomad_lite::Job> JobStore::find_shared(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second;
}

namespace {

// ASCII case is ignored: searching "make" finds "Make" and "MAKE" (what a search box does).
bool contains_ignoring_case(std::string_view text, std::string_view part) {
  auto lower = [](unsigned char c) { return std::tolower(c); };
  return std::search(text.begin(), text.end(), part.begin(), part.end(),
                     [&](char a, char b) { return lower(a) == lower(b); }) != text.end();
}

}  // namespace

ListPage JobStore::list(const ListQuery& query) const {
  ListPage page;
  auto matches = [&](const nomad_lite::Job& job) {
    return (query.status == nomad_lite::JOB_STATUS_UNSPECIFIED || job.status() == query.status) &&
           (query.command_contains.empty() ||
            contains_ignoring_case(job.command(), query.command_contains));
  };
  by_submit_index_.for_each_newest_first([&](uint64_t submit_index, const nomad_lite::Job& job) {
    if (!matches(job)) return true;
    ++page.total;
    if (query.before_submit_index != 0 && submit_index >= query.before_submit_index) return true;
    if (page.jobs.size() < query.limit) {
      page.jobs.push_back(job);
    } else if (page.next_before == 0) {
      page.next_before = page.jobs.back().submit_index();
    }
    return true;
  });
  return page;
}

JobStoreImage JobStore::image() const {
  JobStoreImage image;
  image.segments = by_submit_index_.share();
  image.node_slots = node_slots_;
  image.node_capacity = node_capacity_;
  image.node_scheduling = node_scheduling_;
  image.agents = agents_;
  image.highest_agent_id = highest_agent_id_;
  for (const auto& [id, p] : periodic_) image.periodic.push_back(p);
  image.jobs_submitted = totals_.submitted;
  image.jobs_finished = totals_.finished;
  return image;
}

std::string JobStoreImage::serialize() const {
  // The jobs are JobStoreSnapshot's field 1, written as each segment's kept encoding; the
  // rest of the message follows (concatenated encodings parse as one message).
  nomad_lite::JobStoreSnapshot snap;  // everything but the jobs
  for (const auto& [node, slots] : node_slots) {
    auto* n = snap.add_nodes();
    n->set_node_id(node);
    n->set_slots(slots);
    if (auto c = node_capacity.find(node); c != node_capacity.end()) {
      *n->mutable_capacity() = c->second;
    }
  }
  snap.set_jobs_submitted(jobs_submitted);
  snap.set_jobs_finished(jobs_finished);
  for (const auto& [node, scheduling] : node_scheduling) *snap.add_node_scheduling() = scheduling;
  for (const auto& [id, agent] : agents) *snap.add_agents() = agent;
  snap.set_highest_agent_id(highest_agent_id);
  for (const auto& p : periodic) *snap.add_periodic() = p;
  size_t total = snap.ByteSizeLong();
  for (const auto& segment : segments) total += segment->encoded().size();
  std::string out;
  out.reserve(total);
  for (const auto& segment : segments) out += segment->encoded();
  snap.AppendToString(&out);
  return out;
}

namespace {

// A snapshot whose jobs would break the store's indexes (a status no version writes, a job
// listed twice, two jobs at one submission index) is refused whole, before anything changes.
Status check_snapshot_jobs(const nomad_lite::JobStoreSnapshot& snap) {
  std::set<std::string> ids;
  std::set<uint64_t> submit_indexes;
  for (const auto& job : snap.jobs()) {
    std::string what = "job store snapshot: job '" + job.id() + "'";
    if (job.status() < nomad_lite::JOB_STATUS_PENDING ||
        job.status() > nomad_lite::JOB_STATUS_CANCELLED) {
      return Status::error(what + " has status " + std::to_string(job.status()) +
                           ", which is none of pending, running, completed, failed, cancelled");
    }
    if (!ids.insert(job.id()).second) return Status::error(what + " is listed twice");
    if (!submit_indexes.insert(job.submit_index()).second) {
      return Status::error(what + " has the submission index " +
                           std::to_string(job.submit_index()) + " of another job");
    }
  }
  return Status::ok();
}

}  // namespace

Status JobStore::restore(const std::string& data) {
  nomad_lite::JobStoreSnapshot snap;
  if (!snap.ParseFromString(data)) return Status::error("unreadable job store snapshot");
  if (Status s = check_snapshot_jobs(snap); !s) return s;
  for (const auto& [id, job] : jobs_) changes_.push_back(id);  // jobs that may be gone now
  jobs_.clear();
  by_submit_index_.clear();
  idempotency_keys_.clear();
  node_slots_.clear();
  node_capacity_.clear();
  node_scheduling_.clear();
  agents_.clear();
  highest_agent_id_ = 0;
  ++scheduling_version_;
  periodic_.clear();
  ++periodic_version_;
  pending_.clear();
  running_.clear();
  reserved_.clear();
  finished_.clear();
  waiting_on_.clear();
  totals_ = {};
  for (auto& job : *snap.mutable_jobs()) {
    std::string id = job.id();  // read before the move below
    if (!job.idempotency_key().empty()) idempotency_keys_[job.idempotency_key()] = id;
    auto ptr = std::make_shared<const nomad_lite::Job>(std::move(job));
    index(*ptr);
    changes_.push_back(id);
    by_submit_index_.put(ptr);
    jobs_[id] = std::move(ptr);
  }
  for (const auto& n : snap.nodes()) node_slots_[n.node_id()] = n.slots();
  for (const auto& n : snap.nodes()) {
    if (n.has_capacity()) node_capacity_[n.node_id()] = n.capacity();
  }
  for (const auto& n : snap.node_scheduling()) node_scheduling_[n.node_id()] = n;
  for (const auto& a : snap.agents()) agents_[a.id()] = a;
  // Snapshots written before agents could be forgotten hold every agent ever given.
  highest_agent_id_ =
      std::max(snap.highest_agent_id(), agents_.empty() ? 0 : agents_.rbegin()->first);
  for (const auto& p : snap.periodic()) periodic_[p.id()] = p;
  totals_.submitted = snap.jobs_submitted();
  totals_.finished = snap.jobs_finished();
  return Status::ok();
}

}  // namespace nomad::jobs
