#include "worker/worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/log.h"
#include "common/thread_name.h"
#include "common/unix_time.h"

namespace nomad::worker {

// A worker report carries at most this much of finished attempts beyond its first: it must
// stay well within the gRPC message limit of the cluster (transport/channel_args.h, 16 MiB).
constexpr size_t kMaxReportBytes = 4 << 20;

namespace {

// A JobFinished's reason for how the process ended: "" when on its own (the exit code says).
std::string reported_reason(EndReason reason) {
  switch (reason) {
    case EndReason::kExited:
      return "";
    case EndReason::kTimeout:
      return jobs::failure_reason_name(jobs::FailureReason::kTimeout);
    case EndReason::kKilled:
      return jobs::failure_reason_name(jobs::FailureReason::kKilled);
    case EndReason::kSpawnError:
      return jobs::failure_reason_name(jobs::FailureReason::kSpawnError);
    case EndReason::kOom:
      return jobs::failure_reason_name(jobs::FailureReason::kOom);
  }
  return "";
}

}  // namespace

Worker::Worker(WorkerOptions options, Sender send)
    : options_(std::move(options)), send_(std::move(send)), lease_(options_.lease_span) {}

Worker::~Worker() { stop(); }

void Worker::start() {
  if (options_.slots > 0 && options_.executor.job_user.empty() && geteuid() == 0) {
    spdlog::warn(
        "jobs run as root (--job-user root): every submitted command has full control of this "
        "machine; leave --job-user out to run them as nobody");
  } else if (options_.slots > 0 && !options_.executor.job_user.empty()) {
    spdlog::info("jobs run as user {}", options_.executor.job_user);
  }
  std::string why;
  watchdog_ = LeaseWatchdog::start(options_.executor.kill_grace, &why);
  if (!watchdog_) {
    spdlog::warn("{}; a paused server cannot stop its jobs when its lease runs out", why);
  }
  ExecutorOptions executor_options = options_.executor;
  executor_options.on_group = [this](const AttemptKey& key, pid_t group, bool alive) {
    track_group(key, group, alive);
  };
  executor_ = std::make_unique<Executor>(
      executor_options, [this](const AttemptKey& key, int64_t at) { started(key, at); },
      [this](ExecResult r) { finished(std::move(r)); });
  reporter_ = std::thread([this] {
    common::name_this_thread("worker-reports");
    reporter();
  });
  // Apart from the reporter, which may sit in a write to a leader that stopped reading.
  lease_keeper_ = std::thread([this] {
    common::name_this_thread("worker-lease");
    lease_keeper();
  });
}

void Worker::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  lease_cv_.notify_all();
  if (reporter_.joinable()) reporter_.join();
  if (lease_keeper_.joinable()) lease_keeper_.join();
  executor_.reset();  // kills what still runs: the new leader will see those attempts lost
  watchdog_.reset();
}

void Worker::on_applied(const jobs::JobStore& store, const std::vector<std::string>& changed,
                        uint64_t applied_index) {
  bool waits = false;
  for (const auto& id : changed) {
    const nomad_lite::Job* job = store.find(id);
    if (!job) {
      // Removed by retention: the output of every attempt that ran here goes too.
      if (auto ran = ran_here_.find(id); ran != ran_here_.end()) {
        for (uint32_t n = 1; n <= ran->second; ++n) executor_->remove_output({id, n});
        ran_here_.erase(ran);
      }
    } else {
      for (const auto& a : job->attempts()) {
        if (a.node_id() == options_.node_id) {
          ran_here_[id] = std::max(ran_here_[id], a.number());
        }
      }
    }
    const auto* attempt = jobs::last_attempt(job);
    // Kill what this node runs for the job but should not any more, and drop what waits for
    // a lease but is no longer to run (say, declared lost meanwhile).
    for (auto it = mine_.lower_bound({id, 0}); it != mine_.end() && it->first == id;) {
      const auto* running = jobs::running_attempt(job, it->second);
      if (running && running->node_id() == options_.node_id) {
        ++it;
        continue;
      }
      {
        std::lock_guard lock(mu_);
        waiting_.erase(*it);
      }
      executor_->kill({it->first, it->second});
      // Forget it once the applied state shows the attempt ended (no restart can follow).
      it = running ? std::next(it) : mine_.erase(it);
    }
    prune_outbox(job, id);

    if (!job || job->status() != nomad_lite::JOB_STATUS_RUNNING || !attempt ||
        attempt->node_id() != options_.node_id || attempt->finished_at_ms() != 0) {
      continue;
    }
    AttemptId key{id, attempt->number()};
    if (mine_.count(key)) continue;
    mine_.insert(key);
    AttemptKey akey{id, attempt->number()};
    if (executor_->was_started(akey)) {
      // An earlier process of this node spawned it and died with it: it cannot be resumed,
      // and running it again here would run this attempt twice.
      nomad_lite::JobFinished f;
      f.set_job_id(id);
      f.set_attempt(attempt->number());
      f.set_node_id(options_.node_id);
      f.set_at_ms(common::unix_now_ms());
      f.set_reason(jobs::failure_reason_name(jobs::FailureReason::kLost));
      f.set_error("node " + std::to_string(options_.node_id) + " restarted while the attempt ran");
      std::lock_guard lock(mu_);
      finished_[key] = {std::move(f)};
      news_ = true;
      cv_.notify_one();
      continue;
    }
    ExecSpec spec;
    spec.key = akey;
    spec.command = job->command();
    spec.env.insert(job->env().begin(), job->env().end());
    spec.timeout =
        job->timeout_ms() ? std::chrono::milliseconds(job->timeout_ms()) : options_.default_timeout;
    spec.resources = {job->resources().cpu(), job->resources().memory_bytes()};
    std::lock_guard lock(mu_);
    waiting_[key] = {std::move(spec),
                     job->on_disconnect() != nomad_lite::ON_DISCONNECT_KEEP_RUNNING, next_order_++};
    waits = true;
  }
  std::lock_guard lock(mu_);
  applied_index_ = std::max(applied_index_, applied_index);
  start_ready(std::chrono::steady_clock::now());
  if (waits && !waiting_.empty()) {
    // No fresh lease: a report now asks the leader for one, rather than at the heartbeat.
    news_ = true;
    cv_.notify_one();
  }
}

void Worker::start_ready(std::chrono::steady_clock::time_point now) {
  if (stopping_ || waiting_.empty() || !lease_.may_start(applied_index_, now)) return;
  bool started = false;
  // A node without slots that was placed attempts anyway (it had some before a restart) runs
  // them rather than leave them waiting for ever.
  const size_t slots = options_.slots > 0 ? options_.slots : SIZE_MAX;
  while (!waiting_.empty() && active_.size() < slots) {
    auto next = std::min_element(
        waiting_.begin(), waiting_.end(),
        [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
    const AttemptId key = next->first;
    if (next->second.stop_on_disconnect) stoppable_.insert(key);
    active_.insert(key);
    // Only queued for the executor's thread, whose callbacks never hold its lock: safe under
    // this one.
    executor_->start(std::move(next->second.spec));
    waiting_.erase(next);
    started = true;
  }
  // The keeper watches the lease's end for them. One already waiting for that end checks
  // them there: the end only ever moves later.
  if (started && !keeper_watching_) lease_cv_.notify_one();
}

void Worker::on_ack(const nomad_lite::WorkerReportAck& ack) {
  std::lock_guard lock(mu_);
  if (!lease_.acked({ack.leader(), ack.seq(), ack.term(), ack.last_index()})) return;
  if (watchdog_) watchdog_->set_expiry(lease_.expires());
  // No wake-up for the keeper: a renewal only moves the lease's end later, and a keeper
  // waiting for the old end finds the lease valid there and waits again.
  start_ready(std::chrono::steady_clock::now());
}

std::string Worker::disconnected_reason(std::chrono::steady_clock::time_point now) const {
  return "stopped by node " + std::to_string(options_.node_id) +
         ": no leader acknowledged its reports for " +
         std::to_string(lease_.since_ack(now).count()) + " ms (lease " +
         std::to_string(lease_.span().count()) + " ms)";
}

void Worker::track_group(const AttemptKey& key, pid_t group, bool alive) {
  std::lock_guard lock(mu_);
  if (!watchdog_) return;
  AttemptId id{key.job_id, key.attempt};
  if (alive) {
    if (stoppable_.count(id) && !watchdog_->add(group)) {
      common::log_warn("the lease watchdog is full; only this process stops the job",
                       {{"job_id", key.job_id}, {"attempt", key.attempt}});
    }
  } else if (watchdog_->remove(group) && !self_stopped_.count(id)) {
    // Stopped by the watchdog while this process could not act (paused, say).
    self_stopped_[id] = disconnected_reason(std::chrono::steady_clock::now());
  }
}

void Worker::report_now() {
  std::lock_guard lock(mu_);
  news_ = true;
  cv_.notify_one();
}

void Worker::lease_keeper() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    keeper_watching_ = false;
    auto now = std::chrono::steady_clock::now();
    bool to_stop = false;
    for (const auto& key : stoppable_) to_stop |= !self_stopped_.count(key);
    if (!to_stop) {
      lease_cv_.wait(lock);
      continue;
    }
    if (lease_.valid(now)) {
      keeper_watching_ = true;
      lease_cv_.wait_until(lock, lease_.expires());
      continue;
    }
    // Cut off from every leader for longer than the lease: the leader may declare these
    // attempts lost once --kill-grace more has passed, and start them elsewhere.
    std::string why = disconnected_reason(now);
    std::vector<AttemptKey> kill;
    for (const auto& key : stoppable_) {
      if (self_stopped_.emplace(key, why).second) kill.push_back({key.first, key.second});
    }
    lock.unlock();
    for (const auto& key : kill) {
      common::log_warn("stopping a job: " + why,
                       {{"job_id", key.job_id}, {"attempt", key.attempt}});
      executor_->kill(key);
    }
    lock.lock();
  }
}

void Worker::prune_outbox(const nomad_lite::Job* job, const std::string& id) {
  std::lock_guard lock(mu_);
  for (auto it = started_.lower_bound({id, 0}); it != started_.end() && it->first.first == id;) {
    it = jobs::would_apply(job, it->second.message) ? std::next(it) : started_.erase(it);
  }
  for (auto it = finished_.lower_bound({id, 0}); it != finished_.end() && it->first.first == id;) {
    it = jobs::would_apply(job, it->second.message) ? std::next(it) : finished_.erase(it);
  }
}

void Worker::started(const AttemptKey& key, int64_t at_ms) {
  nomad_lite::JobStarted s;
  s.set_job_id(key.job_id);
  s.set_attempt(key.attempt);
  s.set_node_id(options_.node_id);
  s.set_at_ms(at_ms);
  std::lock_guard lock(mu_);
  started_[{key.job_id, key.attempt}] = {
      std::move(s), true, std::chrono::steady_clock::now() + options_.start_report_delay};
  cv_.notify_one();  // the reporter sets its alarm for it
}

void Worker::finished(ExecResult r) {
  nomad_lite::JobFinished f;
  f.set_job_id(r.key.job_id);
  f.set_attempt(r.key.attempt);
  f.set_node_id(options_.node_id);
  f.set_at_ms(r.finished_at_ms);
  f.set_started_at_ms(r.started_at_ms);
  if (r.signal != 0 && (r.reason == EndReason::kExited || r.reason == EndReason::kOom)) {
    f.set_exit_code(128 + r.signal);  // as a shell reports a signalled command
  } else if (r.exit_code) {
    f.set_exit_code(*r.exit_code);
  }
  f.set_signal(r.signal);
  f.set_reason(reported_reason(r.reason));
  f.set_error(r.error);
  f.set_peak_memory_bytes(r.peak_memory_bytes);
  f.set_cpu_time_ms(r.cpu_time_ms);
  std::lock_guard lock(mu_);
  AttemptId key{r.key.job_id, r.key.attempt};
  stoppable_.erase(key);
  // Its slot is free: an attempt waiting here starts now, without waiting for this finish to
  // commit (the leader placed it knowing this one would end first).
  if (active_.erase(key) > 0) start_ready(std::chrono::steady_clock::now());
  if (auto stopped = self_stopped_.find(key); stopped != self_stopped_.end()) {
    if (r.reason == EndReason::kKilled || (r.reason == EndReason::kExited && r.signal != 0)) {
      f.set_reason(jobs::failure_reason_name(jobs::FailureReason::kDisconnected));
      f.clear_exit_code();  // stopped, not ended: there is no exit code to speak of
      f.set_error(r.error == "killed on request" ? stopped->second
                                                 : stopped->second + "; " + r.error);
    }
    self_stopped_.erase(stopped);
  }
  f.set_stdout_tail(std::move(r.stdout_tail));
  f.set_stderr_tail(std::move(r.stderr_tail));
  f.set_stdout_truncated(r.stdout_truncated);
  f.set_stderr_truncated(r.stderr_truncated);
  // The finish carries the start time: a start not yet sent need not travel on its own.
  auto unsent = started_.find({r.key.job_id, r.key.attempt});
  if (unsent != started_.end() && unsent->second.fresh) started_.erase(unsent);
  finished_[{r.key.job_id, r.key.attempt}] = {std::move(f)};
  news_ = true;
  cv_.notify_one();
}

std::chrono::milliseconds Worker::heartbeat_interval_locked() const {
  const bool idle = started_.empty() && finished_.empty() && waiting_.empty() && active_.empty();
  return idle && options_.idle_report_interval > options_.report_interval
             ? options_.idle_report_interval
             : options_.report_interval;
}

void Worker::reporter() {
  std::chrono::steady_clock::time_point last_heartbeat{};  // none yet: the first goes at once
  while (true) {
    nomad_lite::WorkerReport report;
    bool heartbeat = false;
    {
      std::unique_lock lock(mu_);
      // Wake for news, for the heartbeat, or when the first unsent start falls due. The
      // heartbeat's interval is looked at again on each wake: work arriving at an idle worker
      // brings it forward.
      auto first_due = [&] {
        auto due = last_heartbeat + heartbeat_interval_locked();
        for (const auto& [k, s] : started_) {
          if (s.fresh) due = std::min(due, s.due);
        }
        return due;
      };
      auto now = std::chrono::steady_clock::now();
      while (!stopping_ && !news_ && now < first_due()) {
        cv_.wait_until(lock, first_due());
        now = std::chrono::steady_clock::now();
      }
      if (stopping_) return;
      news_ = false;
      heartbeat = now >= last_heartbeat + heartbeat_interval_locked();
      report.set_node_id(options_.node_id);
      report.set_slots(options_.slots);
      if (options_.capacity) *report.mutable_capacity() = *options_.capacity;
      report.set_seq(lease_.sending(now));
      for (auto& [k, s] : started_) {
        // A start goes out once due, and then with every heartbeat until it is applied. One
        // not yet due waits even for a heartbeat: the job may still end first, and its finish
        // then carries the start in the same entry (one Raft round, not two).
        if (s.fresh ? s.due <= now : heartbeat) {
          *report.add_started() = s.message;
          s.fresh = false;
        }
      }
      // At most kMaxReportBytes of finished attempts per report (at least one): what does not
      // fit stays fresh and goes in the next report, sent right after this one.
      size_t report_bytes = 0;
      for (auto& [k, f] : finished_) {
        if (!heartbeat && !f.fresh) continue;
        size_t size = f.message.ByteSizeLong();
        if (report.finished_size() > 0 && report_bytes + size > kMaxReportBytes) {
          f.fresh = true;
          news_ = true;
          continue;
        }
        report_bytes += size;
        *report.add_finished() = f.message;
        f.fresh = false;
      }
    }
    for (const auto& key : executor_->running()) {
      auto* r = report.add_running();
      r->set_job_id(key.job_id);
      r->set_attempt(key.attempt);
    }
    if (!send_(report)) {
      spdlog::debug("worker report not delivered (no leader reachable); will resend");
    }
    // News goes out at once; the heartbeat (which resends everything unconfirmed) keeps its pace.
    if (heartbeat) last_heartbeat = std::chrono::steady_clock::now();
  }
}

}  // namespace nomad::worker
