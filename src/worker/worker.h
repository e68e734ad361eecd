#pragma once

// The worker on every node: it watches the applied job state for attempts placed on this
// node and runs them with the Executor, at most --worker-slots at once (attempts placed
// beyond those wait here and start as soon as a slot frees), kills attempts that became stale
// (cancelled, reassigned), and reports to the leader: a heartbeat every 500 ms with what it runs,
// plus every start and finish, resent until the worker sees them in its applied state.
//
// It starts an attempt only under a fresh lease (lease.h) and, when the lease runs out,
// stops the attempts of jobs with on_disconnect stop itself (reason "disconnected"), so the
// leader may start the next attempt elsewhere once it declares this one lost.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "jobs/job_store.h"
#include "proto/nomad_lite.pb.h"
#include "worker/executor.h"
#include "worker/lease.h"
#include "worker/lease_watchdog.h"

namespace nomad::worker {

struct WorkerOptions {
  uint64_t node_id = 0;
  uint32_t slots = 0;
  std::chrono::milliseconds default_timeout{0};  // for jobs submitted without one; 0: none
  std::chrono::milliseconds report_interval{500};
  // The heartbeat while nothing runs, waits or is owed to the leader (0: report_interval).
  // News (an assignment, a start, a finish) still goes out at once, and the heartbeat is back
  // to report_interval from the moment there is any.
  std::chrono::milliseconds idle_report_interval{0};
  // A start is reported this long after the spawn: most short jobs finish first, and their
  // finish (which carries the start time) then makes the one Raft command for both.
  std::chrono::milliseconds start_report_delay{50};
  // How long an acked report keeps the lease (lease_span(): --worker-timeout minus a margin).
  std::chrono::milliseconds lease_span{4000};
  ExecutorOptions executor;
  // What it offers jobs (CPU, memory, labels, name), sent in every report; unset: nothing sent,
  // the leader then knows no limits for this node.
  std::optional<nomad_lite::NodeCapacity> capacity;
};

class Worker {
 public:
  // `send` delivers a report to the current leader; false if it could not.
  using Sender = std::function<bool(const nomad_lite::WorkerReport&)>;
  Worker(WorkerOptions options, Sender send);
  ~Worker();

  void start();
  void stop();

  // On the node loop thread, after entries were applied: `changed` names the jobs they touched,
  // `applied_index` is the node's applied index now (the store shows the state there).
  void on_applied(const jobs::JobStore& store, const std::vector<std::string>& changed,
                  uint64_t applied_index);
  // A leader acknowledged a report (any thread; cheap, never blocks on I/O).
  void on_ack(const nomad_lite::WorkerReportAck& ack);
  // Sends a report now rather than at the next heartbeat: a new leader's first ack renews
  // the lease (any thread).
  void report_now();

  Executor& executor() { return *executor_; }
  const WorkerOptions& options() const { return options_; }

 private:
  using AttemptId = std::pair<std::string, uint32_t>;
  void reporter();
  // The heartbeat interval now: idle_report_interval when nothing runs, waits or is owed.
  // Caller holds mu_.
  std::chrono::milliseconds heartbeat_interval_locked() const;
  // Stops the running attempts of on_disconnect-stop jobs whenever the lease runs out.
  void lease_keeper();
  // Starts the waiting attempts if the lease allows. Caller holds mu_.
  void start_ready(std::chrono::steady_clock::time_point now);
  // The executor's on_group: stoppable attempts' groups go to the watchdog.
  void track_group(const AttemptKey& key, pid_t group, bool alive);
  // Why an attempt was stopped, for its finish report.
  std::string disconnected_reason(std::chrono::steady_clock::time_point now) const;
  void started(const AttemptKey& key, int64_t at_ms);
  void finished(ExecResult result);
  void prune_outbox(const nomad_lite::Job* job, const std::string& id);

  WorkerOptions options_;
  Sender send_;
  std::unique_ptr<Executor> executor_;

  std::set<AttemptId> mine_;  // attempts this process took on (loop thread)
  // Each job with an attempt assigned here: its highest such attempt, whose output (and that of
  // the attempts before it) is deleted when retention removes the job (loop thread). A restart
  // refills it, as every job of the restored state passes through on_applied.
  std::unordered_map<std::string, uint32_t> ran_here_;

  std::mutex mu_;
  std::condition_variable cv_;
  // The outbox. `fresh` items have not been sent yet: they go out once `due`; the others are
  // resent with each heartbeat until the applied state shows them.
  template <class T>
  struct Outgoing {
    T message;
    bool fresh = true;
    std::chrono::steady_clock::time_point due{};
  };
  std::map<AttemptId, Outgoing<nomad_lite::JobStarted>> started_;
  std::map<AttemptId, Outgoing<nomad_lite::JobFinished>> finished_;
  bool news_ = false;
  bool stopping_ = false;
  std::thread reporter_;

  // The lease and what hangs on it.
  Lease lease_;
  uint64_t applied_index_ = 0;  // as of the last on_applied
  struct Waiting {
    ExecSpec spec;
    bool stop_on_disconnect = true;
    uint64_t order = 0;  // attempts start in the order they were assigned here
  };
  // Assigned here, not started: no fresh lease yet, or every slot busy (the leader may place
  // up to one attempt per slot beyond those running, so the next starts as soon as one ends).
  std::map<AttemptId, Waiting> waiting_;
  uint64_t next_order_ = 0;
  std::set<AttemptId> active_;     // started here, not yet finished: at most options_.slots
  std::set<AttemptId> stoppable_;  // started, on_disconnect stop, not finished
  std::map<AttemptId, std::string> self_stopped_;  // killed as the lease ran out: why
  // Kills the stoppable attempts' groups even while this process is paused (null if it could
  // not be started: then only the keeper enforces the lease).
  std::unique_ptr<LeaseWatchdog> watchdog_;
  std::condition_variable lease_cv_;
  // The keeper waits for the lease's end (not for attempts to watch): a new attempt need not
  // wake it, nor a renewal.
  bool keeper_watching_ = false;
  std::thread lease_keeper_;
};

}  // namespace nomad::worker
