#include "node/coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <type_traits>

#include "common/log_rate_limit.h"
#include "jobs/scheduler.h"

namespace nomad::node {
namespace {

// A proposal that has not shown up applied after this long was lost (say, with a leadership
// change and back): it may be proposed again. Repeats are harmless; they are fenced at apply.
constexpr auto kResendAfter = std::chrono::seconds(2);
constexpr size_t kMaxRemovalsPerEntry = 1000;

// Whether two capacities are the same, field by field (NodeCapacity's every field: one added
// there must be added here). Every report carries one: MessageDifferencer, which walks them by
// reflection, cost the leader more per report than the rest of the report's handling.
bool same_capacity(const nomad_lite::NodeCapacity& a, const nomad_lite::NodeCapacity& b) {
  if (a.cpu() != b.cpu() || a.memory_bytes() != b.memory_bytes() || a.name() != b.name() ||
      a.labels_size() != b.labels_size()) {
    return false;
  }
  for (const auto& [key, value] : a.labels()) {
    auto it = b.labels().find(key);
    if (it == b.labels().end() || it->second != value) return false;
  }
  return true;
}

// A node that sends forged entries in every report would fill the log: a few lines per sender
// per minute, with the count of those left out.
common::LogRateLimiter& foreign_entry_limiter() {
  static common::LogRateLimiter limiter(5, std::chrono::minutes(1));
  return limiter;
}

// Moves the worker reports in `pending` (started or finished, by job id and attempt) that are
// worth proposing into `proposed`, the JobUpdates list of their kind: a report is proposed
// only while it still changes its job, and again only after kResendAfter (the worker resends
// it until it sees it applied, so most resends meet a job that has moved on). `sent` holds
// when each was last proposed.
template <class Report>
void propose_useful(
    const jobs::JobStore& store, std::chrono::steady_clock::time_point now,
    std::map<std::pair<std::string, uint32_t>, Report>& pending,
    std::map<std::pair<std::string, uint32_t>, std::chrono::steady_clock::time_point>& sent,
    google::protobuf::RepeatedPtrField<Report>* proposed) {
  for (auto it = pending.begin(); it != pending.end(); it = pending.erase(it)) {
    bool useful = jobs::would_apply(store.find(it->first.first), it->second);
    auto last = sent.find(it->first);
    if (useful && (last == sent.end() || now - last->second > kResendAfter)) {
      *proposed->Add() = it->second;
      sent[it->first] = now;
    } else if (!useful) {
      sent.erase(it->first);
    }
  }
}

// Proposes that attempt `attempt` of job `id` on `node` ended for `reason` (`error` says why),
// unless such a verdict was proposed within kResendAfter (`sent`, which this updates). The
// verdict, for more fields, or null when none is proposed.
nomad_lite::JobFinished* propose_end(
    std::map<std::pair<std::string, uint32_t>, std::chrono::steady_clock::time_point>& sent,
    std::chrono::steady_clock::time_point now, const std::string& id, uint32_t attempt,
    uint64_t node, int64_t wall_ms, jobs::FailureReason reason, std::string error,
    nomad_lite::JobUpdates* updates) {
  auto [last, first] = sent.try_emplace({id, attempt}, now);
  if (!first) {
    if (now - last->second <= kResendAfter) return nullptr;
    last->second = now;
  }
  nomad_lite::JobFinished* f = updates->add_finished();
  f->set_job_id(id);
  f->set_attempt(attempt);
  f->set_node_id(node);
  f->set_at_ms(wall_ms);
  f->set_reason(jobs::failure_reason_name(reason));
  f->set_error(std::move(error));
  return f;
}

// Whether `sender` may report on attempt `attempt` of job `job_id`, which the entry says ran on
// `named`; if not, says why in the log. An unknown job or attempt (removed, or a report older
// than this leader's log) is the sender's if the entry names it: would_apply drops it later.
bool sender_owns(const jobs::JobStore& store, uint64_t sender, const char* what,
                 const std::string& job_id, uint32_t attempt, uint64_t named) {
  const nomad_lite::Attempt* placed = jobs::find_attempt(store.find(job_id), attempt);
  uint64_t placed_on = placed ? placed->node_id() : named;
  if (named == sender && placed_on == sender) return true;
  auto verdict = foreign_entry_limiter().admit("node " + std::to_string(sender),
                                               common::LogRateLimiter::Clock::now());
  if (verdict.log) {
    spdlog::warn(
        "node {} reported job {} attempt {} {} (the entry names node {}), but that attempt was "
        "placed on node {}: ignored, a node reports only its own attempts{}",
        sender, job_id.substr(0, 64), attempt, what, named, placed_on,
        verdict.suppressed ? fmt::format(" ({} more such entries not logged)", verdict.suppressed)
                           : "");
  }
  return false;
}

}  // namespace

void Coordinator::become_leader(Clock::time_point now) {
  leading_ = true;
  leader_since_ = now;
  workers_.clear();
  started_.clear();
  finished_.clear();
  started_sent_.clear();
  finished_sent_.clear();
  assigning_.clear();
  slots_sent_.clear();
  slots_due_.clear();
  capacity_sent_.clear();
  submitted_usage_.clear();
  drained_sent_.clear();
  next_retention_ = now;
  dirty_ = true;
}

void Coordinator::lose_leadership() {
  leading_ = false;
  workers_.clear();
  started_.clear();
  finished_.clear();
  assigning_.clear();
  submitted_usage_.clear();
}

std::chrono::milliseconds Coordinator::lost_after(const nomad_lite::Job& job) const {
  if (job.on_disconnect() == nomad_lite::ON_DISCONNECT_KEEP_RUNNING) return options_.worker_timeout;
  return options_.worker_timeout + options_.kill_grace + options_.lost_drift;
}

bool Coordinator::worker_alive(uint64_t node, Clock::time_point now) const {
  auto it = workers_.find(node);
  return it != workers_.end() && it->second.reported &&
         now - it->second.last_report <= options_.worker_timeout;
}

void Coordinator::set_nodes(std::vector<uint64_t> nodes) {
  // Former members need no list: add_lost() watches every node with attempts running.
  std::sort(nodes.begin(), nodes.end());
  options_.nodes = std::move(nodes);
  dirty_ = true;  // capacity came or went
}

void Coordinator::on_report(const jobs::JobStore& store, const nomad_lite::WorkerReport& report,
                            Clock::time_point now) {
  if (!leading_) return;
  // New capacity to place on: a worker first heard from, back after a silence, or resized.
  bool was_alive = worker_alive(report.node_id(), now);
  Worker& w = workers_[report.node_id()];
  if (!was_alive || w.slots != report.slots()) dirty_ = true;
  w.reported = true;
  w.slots = report.slots();
  w.last_report = now;
  auto committed = store.node_slots().find(report.node_id());
  auto sent = slots_sent_.find(report.node_id());
  if ((committed == store.node_slots().end() || committed->second != w.slots) &&
      (sent == slots_sent_.end() || sent->second != w.slots)) {
    slots_due_.insert(report.node_id());
  }
  if (report.has_capacity() && (!w.capacity || !same_capacity(*w.capacity, report.capacity()))) {
    w.capacity = std::make_shared<const nomad_lite::NodeCapacity>(report.capacity());
    dirty_ = true;                        // resized or relabelled
    slots_due_.insert(report.node_id());  // collect() proposes the new capacity
  }
  const uint64_t sender = report.node_id();
  for (const auto& s : report.started()) {
    if (sender_owns(store, sender, "started", s.job_id(), s.attempt(), s.node_id())) {
      started_[{s.job_id(), s.attempt()}] = s;
    }
  }
  for (const auto& f : report.finished()) {
    if (sender_owns(store, sender, "finished", f.job_id(), f.attempt(), f.node_id())) {
      nomad_lite::JobFinished& kept = finished_[{f.job_id(), f.attempt()}] = f;
      // Only the leader ends an attempt as drained (a free rerun); a worker's process that
      // ended unasked was killed.
      if (jobs::is_drained(kept.reason())) {
        kept.set_reason(jobs::failure_reason_name(jobs::FailureReason::kKilled));
      }
    }
  }
  if (report.finished_size() > 0) dirty_ = true;  // a finish frees a slot before it commits
}

std::vector<uint64_t> Coordinator::on_connected(const jobs::JobStore& store,
                                                const std::vector<uint64_t>& agents,
                                                Clock::time_point now) {
  std::vector<uint64_t> heard;
  if (!leading_) return heard;
  const auto& running = store.running_by_node();
  for (uint64_t agent : agents) {
    auto w = workers_.find(agent);
    if (w == workers_.end() || !w->second.reported) continue;  // its slots are not known yet
    if (auto r = running.find(agent); r != running.end() && !r->second.empty()) continue;
    if (!worker_alive(agent, now)) dirty_ = true;  // placeable again
    w->second.last_report = now;
    heard.push_back(agent);
  }
  return heard;
}

void Coordinator::on_applied(const jobs::JobStore& store, const std::vector<std::string>& changed) {
  if (!leading_ || changed.empty()) return;
  for (const auto& id : changed) {
    // Its assignment applied, or the job ended or went. A job still pending is still being
    // assigned: its submission may apply a round before the assignment behind it, and placing
    // it again then would only propose a second assignment, fenced at apply. Should the
    // assignment never apply, it expires after kResendAfter as any other.
    const nomad_lite::Job* job = store.find(id);
    if (!job || job->status() != nomad_lite::JOB_STATUS_PENDING) assigning_.erase(id);
    submitted_usage_.erase(id);  // applied: the store has what it asks for
    // A finish that applied is no longer in flight: forget it now rather than at the sweep,
    // since placement counts the finishes in flight.
    for (auto it = finished_sent_.lower_bound({id, 0});
         it != finished_sent_.end() && it->first.first == id;) {
      bool ended = !jobs::running_attempt(job, it->first.second);
      it = ended ? finished_sent_.erase(it) : std::next(it);
    }
  }
  dirty_ = true;  // a finish frees a slot, a submission adds work
}

void Coordinator::add_reports(const jobs::JobStore& store, Clock::time_point now,
                              nomad_lite::JobUpdates* updates) {
  propose_useful(store, now, started_, started_sent_, updates->mutable_started());
  propose_useful(store, now, finished_, finished_sent_, updates->mutable_finished());
}

void Coordinator::add_lost(const jobs::JobStore& store, Clock::time_point now, int64_t wall_ms,
                           nomad_lite::JobUpdates* updates) {
  // Every node with an attempt running: members, former members (also one removed before this
  // leader started, whose attempts would otherwise stay running forever) and agents (lost as
  // nodes are). Only those are looked at, not every worker on every turn.
  for (const auto& [node, running_jobs] : store.running_by_node()) {
    const std::set<std::string>* running = &running_jobs;
    if (running->empty()) continue;
    auto w = workers_.find(node);
    Clock::time_point heard = leader_since_;
    if (w != workers_.end() && w->second.reported && w->second.last_report > heard) {
      heard = w->second.last_report;
    }
    // The shortest wait of any job (keep-running ones) decides whether to look at all.
    if (now - heard <= options_.worker_timeout) continue;
    for (const auto& id : *running) {
      const nomad_lite::Job* job = store.find(id);
      const auto* attempt = jobs::last_attempt(job);
      if (!attempt) continue;
      const auto wait = lost_after(*job);
      if (now - heard <= wait) continue;
      if (!propose_end(finished_sent_, now, id, attempt->number(), node, wall_ms,
                       jobs::FailureReason::kLost,
                       "node " + std::to_string(node) + " stopped reporting for " +
                           std::to_string(wait.count()) + " ms",
                       updates)) {
        continue;
      }
      spdlog::warn("job {} attempt {}: node {} is silent, declaring the attempt lost", id,
                   attempt->number(), node);
    }
  }
}

void Coordinator::add_drains(const jobs::JobStore& store, Clock::time_point now, int64_t wall_ms,
                             nomad_lite::JobUpdates* updates,
                             std::vector<nomad_lite::Command>* out) {
  for (const auto& [node, n] : store.node_scheduling()) {
    if (!n.draining()) continue;
    const std::set<std::string>* running = store.running_jobs_on(node);
    if (!running) {
      auto sent = drained_sent_.find({node, n.drain_index()});
      if (sent != drained_sent_.end() && now - sent->second <= kResendAfter) continue;
      drained_sent_[{node, n.drain_index()}] = now;
      nomad_lite::Command command;
      command.mutable_node_drained()->set_node_id(node);
      command.mutable_node_drained()->set_drain_index(n.drain_index());
      command.mutable_node_drained()->set_at_ms(wall_ms);
      out->push_back(std::move(command));
      spdlog::info("node {} is drained: no job runs there any more", node);
      continue;
    }
    if (n.drain_deadline_ms() == 0 || wall_ms < n.drain_deadline_ms()) continue;
    // The deadline passed: what still runs there is ended (its worker kills it once the
    // verdict applies) and run again elsewhere.
    for (const auto& id : *running) {
      const auto* attempt = jobs::last_attempt(store.find(id));
      if (!attempt) continue;
      nomad_lite::JobFinished* f = propose_end(
          finished_sent_, now, id, attempt->number(), node, wall_ms, jobs::FailureReason::kDrained,
          "node " + std::to_string(node) +
              " was drained and the attempt still ran at the drain's deadline",
          updates);
      if (!f) continue;
      // Its node kills it once it applies this verdict, or stops it itself when cut off from
      // every leader: the same wait as for a lost attempt keeps two attempts from overlapping.
      f->set_rerun_not_before_ms(wall_ms + lost_after(*store.find(id)).count());
      spdlog::info("job {} attempt {}: drain deadline of node {} passed, running it elsewhere", id,
                   attempt->number(), node);
    }
  }
}

void Coordinator::add_assignments(const jobs::JobStore& store, Clock::time_point now,
                                  int64_t wall_ms, nomad_lite::JobUpdates* updates) {
  for (auto it = assigning_.begin(); it != assigning_.end();) {
    if (now - it->second.second <= kResendAfter) {
      ++it;
      continue;
    }
    it = assigning_.erase(it);
    dirty_ = true;  // the job may be placed again, even if nothing else happens
  }
  // A node made eligible again (or drained) changes where jobs may go, though no job changed.
  if (store.scheduling_version() != scheduling_seen_) {
    scheduling_seen_ = store.scheduling_version();
    dirty_ = true;
  }
  if (!dirty_ && (next_placement_ == Clock::time_point{} || now < next_placement_)) return;
  dirty_ = false;
  next_placement_ = {};
  if (store.pending_queue().empty()) return;

  std::set<std::string> skip;
  for (const auto& [id, a] : assigning_) skip.insert(id);
  jobs::Placement p = jobs::place(store, worker_views(store, now), wall_ms, skip, 4096,
                                  &placement_cursor_, options_.placement);
  for (auto& a : p.assign) {
    assigning_[a.job_id()] = {a.node_id(), now};
    *updates->add_assign() = std::move(a);
  }
  if (p.next_wakeup_ms != 0) {
    next_placement_ =
        now + std::chrono::milliseconds(std::max<int64_t>(p.next_wakeup_ms - wall_ms, 1));
  }
}

std::vector<jobs::WorkerView> Coordinator::worker_views(const jobs::JobStore& store,
                                                        Clock::time_point now) const {
  std::map<uint64_t, uint32_t> in_flight, finishing;
  std::map<uint64_t, jobs::Usage> in_flight_usage, finishing_usage;
  for (const auto& [id, a] : assigning_) {
    ++in_flight[a.first];
    const nomad_lite::Job* job = store.find(id);
    if (job && job->has_resources()) {
      in_flight_usage[a.first].add(jobs::usage_of(job->resources()));
    } else if (auto u = submitted_usage_.find(id); !job && u != submitted_usage_.end()) {
      in_flight_usage[a.first].add(u->second);
    }
  }
  for (const auto& [key, at] : finished_sent_) {
    const nomad_lite::Job* job = store.find(key.first);
    const auto* attempt = jobs::running_attempt(job, key.second);
    if (!attempt) continue;
    ++finishing[attempt->node_id()];
    if (job->has_resources())
      finishing_usage[attempt->node_id()].add(jobs::usage_of(job->resources()));
  }
  // Looked up, not indexed: most of a thousand agents have nothing in flight.
  auto of = [](const auto& by_node, uint64_t node) {
    auto it = by_node.find(node);
    return it == by_node.end() ? typename std::decay_t<decltype(by_node)>::mapped_type{}
                               : it->second;
  };
  std::vector<jobs::WorkerView> views;
  views.reserve(workers_.size());
  for (const auto& [node, w] : workers_) {
    // Only members and registered agents get new attempts (a removed node still reports
    // what it runs).
    if (std::find(options_.nodes.begin(), options_.nodes.end(), node) == options_.nodes.end() &&
        !store.agent(node)) {
      continue;
    }
    views.push_back({node, w.slots, worker_alive(node, now), of(in_flight, node),
                     of(finishing, node), w.slots * options_.queue_per_slot, w.capacity,
                     of(in_flight_usage, node), of(finishing_usage, node)});
  }
  return views;
}

std::optional<nomad_lite::Command> Coordinator::place_submitted(
    const jobs::JobStore& store, const std::vector<Submitted>& submitted, Clock::time_point now,
    int64_t wall_ms) {
  if (!leading_ || submitted.empty()) return std::nullopt;
  // Jobs already waiting go first (priority, then age): a newcomer placed now would jump them.
  // Waiting jobs whose assignments are in flight are not waiting for a slot.
  const auto& pending = store.pending_queue();
  if (pending.size() > assigning_.size()) return std::nullopt;
  for (const auto& [key, id] : pending) {
    if (!assigning_.count(id)) return std::nullopt;
  }
  std::vector<jobs::NewJob> jobs;
  for (const auto& s : submitted) {
    // A retried submission applies as the job it created the first time: nothing to place.
    if (!s.idempotency_key.empty() && store.has_idempotency_key(s.idempotency_key)) continue;
    jobs.push_back({s.job_id, s.resources, s.constraints});
  }
  auto assigns = jobs::place_new_jobs(store, worker_views(store, now), jobs, &placement_cursor_,
                                      options_.placement);
  if (assigns.empty()) return std::nullopt;
  for (const auto& j : jobs) {
    jobs::Usage usage = jobs::usage_of(j.resources);
    if (!usage.empty()) submitted_usage_[j.id] = usage;
  }
  nomad_lite::Command command;
  nomad_lite::JobUpdates* updates = command.mutable_updates();
  updates->set_at_ms(wall_ms);
  for (auto& a : assigns) {
    assigning_[a.job_id()] = {a.node_id(), now};
    *updates->add_assign() = std::move(a);
  }
  return command;
}

void Coordinator::forget_assignments(const nomad_lite::Command& command) {
  for (const auto& a : command.updates().assign()) {
    assigning_.erase(a.job_id());
    submitted_usage_.erase(a.job_id());
  }
  dirty_ = true;
}

bool Coordinator::add_removals(const jobs::JobStore& store, Clock::time_point now, int64_t wall_ms,
                               nomad_lite::RemoveJobs* remove) {
  if (now < next_retention_) return false;
  next_retention_ = now + std::chrono::seconds(1);
  const auto& finished = store.finished_order();
  size_t over = finished.size() > options_.retain_jobs ? finished.size() - options_.retain_jobs : 0;
  int64_t cutoff = wall_ms - options_.retain_for.count();
  for (const auto& [at, id] : finished) {
    if (static_cast<size_t>(remove->job_ids_size()) >= kMaxRemovalsPerEntry) break;
    if (over == 0 && at >= cutoff) break;
    remove->add_job_ids(id);
    if (over > 0) --over;
  }
  // Cancelled periodic jobs by the same rule, counted apart, their cancellation standing for
  // a job's finish: the oldest beyond --retain-jobs, and those cancelled before the cutoff.
  std::vector<std::pair<int64_t, std::string>> cancelled;
  for (const auto& [id, p] : store.periodic()) {
    if (p.cancelled()) cancelled.emplace_back(p.changed_at_ms(), id);
  }
  std::sort(cancelled.begin(), cancelled.end());
  size_t periodic_over =
      cancelled.size() > options_.retain_jobs ? cancelled.size() - options_.retain_jobs : 0;
  for (const auto& [at, id] : cancelled) {
    if (static_cast<size_t>(remove->periodic_ids_size()) >= kMaxRemovalsPerEntry) break;
    if (periodic_over == 0 && at >= cutoff) break;
    remove->add_periodic_ids(id);
    if (periodic_over > 0) --periodic_over;
  }
  return remove->job_ids_size() > 0 || remove->periodic_ids_size() > 0;
}

std::vector<nomad_lite::Command> Coordinator::collect(const jobs::JobStore& store,
                                                      Clock::time_point now, int64_t wall_ms) {
  std::vector<nomad_lite::Command> out;
  if (!leading_) return out;
  nomad_lite::Command command;
  nomad_lite::JobUpdates* updates = command.mutable_updates();
  for (uint64_t node : slots_due_) {
    auto worker = workers_.find(node);
    if (worker == workers_.end()) continue;
    const Worker& w = worker->second;
    auto committed = store.node_slots().find(node);
    bool known = committed != store.node_slots().end() && committed->second == w.slots;
    auto sent = slots_sent_.find(node);
    bool new_slots = !known && (sent == slots_sent_.end() || sent->second != w.slots);
    // Capacity too goes into the log only when it changed (a new report's copy is kept only
    // when it differs, so the pointer tells whether this one was sent).
    const nomad_lite::NodeCapacity* replicated = store.capacity_of(node);
    bool new_capacity = w.capacity && capacity_sent_[node] != w.capacity &&
                        !(replicated && same_capacity(*replicated, *w.capacity));
    if (new_slots || new_capacity) {
      auto* s = updates->add_slots();
      s->set_node_id(node);
      s->set_slots(w.slots);
      if (const auto* agent = store.agent(node)) {
        s->set_agent(true);
        s->set_address(agent->address());
      }
      slots_sent_[node] = w.slots;
      if (new_capacity) *s->mutable_capacity() = *w.capacity;
      capacity_sent_[node] = w.capacity;
    }
  }
  slots_due_.clear();
  // A proposal sent longer ago than kResendAfter counts as never sent: forget it, or the
  // entries of reports that are not resent after they apply would pile up for the whole term.
  // Swept once a second, not on every turn of the loop.
  if (now >= next_sweep_) {
    next_sweep_ = now + std::chrono::seconds(1);
    for (auto* sent : {&started_sent_, &finished_sent_}) {
      for (auto it = sent->begin(); it != sent->end();) {
        it = now - it->second > kResendAfter ? sent->erase(it) : std::next(it);
      }
    }
  }
  add_reports(store, now, updates);
  add_lost(store, now, wall_ms, updates);
  std::vector<nomad_lite::Command> drained;
  add_drains(store, now, wall_ms, updates, &drained);
  add_assignments(store, now, wall_ms, updates);
  if (updates->slots_size() || updates->assign_size() || updates->started_size() ||
      updates->finished_size()) {
    updates->set_at_ms(wall_ms);
    out.push_back(std::move(command));
  }
  for (auto& d : drained) out.push_back(std::move(d));
  nomad_lite::Command removal;
  if (add_removals(store, now, wall_ms, removal.mutable_remove()))
    out.push_back(std::move(removal));
  return out;
}

}  // namespace nomad::node
