#pragma once

// The leader's side of running jobs: it hears every worker's reports, knows which workers
// are alive, places pending jobs, turns reports into Raft commands, declares the attempts of
// silent workers lost, and removes old finished jobs. All of this is soft state rebuilt by
// each new leader; only the commands it proposes are durable. Runs on the node loop thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "jobs/job_store.h"
#include "jobs/scheduler.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::node {

class Coordinator {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    uint64_t self = 0;
    std::vector<uint64_t> nodes;  // every voter, self included
    std::chrono::milliseconds worker_timeout{5000};
    // The workers' --kill-grace: a worker cut off from the leader stops an attempt (of a job
    // with on_disconnect stop) within worker_timeout of its last acknowledged report and
    // kills it this much later. The leader waits that long, and lost_drift more, before it
    // declares the attempt lost (lost_after()).
    std::chrono::milliseconds kill_grace{5000};
    std::chrono::milliseconds lost_drift{500};
    // Attempts a worker may hold per slot beyond the ones it runs (WorkerView::queue). The
    // worker still runs at most --worker-slots at once; with none queued, a slot stays idle
    // for the Raft round that commits its next assignment.
    uint32_t queue_per_slot = 1;
    uint64_t retain_jobs = 100'000;
    std::chrono::milliseconds retain_for{7LL * 24 * 3600 * 1000};
    jobs::PlacementPolicy placement = jobs::PlacementPolicy::kSpread;  // --placement
  };

  explicit Coordinator(Options options) : options_(std::move(options)) {}

  // A new leader gives every worker one timeout to report before declaring anything lost.
  void become_leader(Clock::time_point now);
  void lose_leadership();
  bool leading() const { return leading_; }

  // The members changed: jobs are placed on members only (voters and learners). A node no
  // longer a member keeps its running attempts, watched as before: their finishes are taken,
  // and they are declared lost if it goes silent.
  void set_nodes(std::vector<uint64_t> nodes);

  // Takes only the entries that are the sender's to report: each must name the sending node
  // and an attempt placed on it (a node cannot start or finish another node's job). The others
  // are dropped with a warning (rate-limited) naming the sender, the job and its node.
  void on_report(const jobs::JobStore& store, const nomad_lite::WorkerReport& report,
                 Clock::time_point now);
  // Agents whose streams from this leader are open (AgentStreams): each that reported before
  // and has no attempt running counts as heard from now, so an idle agent stays placeable
  // without reporting. One with attempts is heard only from its reports: its lease and the
  // verdict of lost (worker/lease.h) are counted from them. Returns the agents counted.
  std::vector<uint64_t> on_connected(const jobs::JobStore& store,
                                     const std::vector<uint64_t>& agents, Clock::time_point now);
  // Jobs changed by applied entries: their proposals are no longer in flight.
  void on_applied(const jobs::JobStore& store, const std::vector<std::string>& changed);

  // The commands to propose now (none when there is nothing to do).
  std::vector<nomad_lite::Command> collect(const jobs::JobStore& store, Clock::time_point now,
                                           int64_t wall_ms);

  // A submission the leader is proposing now.
  struct Submitted {
    std::string job_id;
    std::string idempotency_key;
    nomad_lite::Resources resources{};                              // what the job asks for
    google::protobuf::RepeatedPtrField<std::string> constraints{};  // on node labels
  };
  // When no other job waits for a slot, places the submitted jobs at once: the command
  // returned goes into the log right behind their submissions, so a job's submission and its
  // assignment commit in the same round instead of one after the other. Jobs that find no
  // free slot are placed by collect() once their submissions apply.
  std::optional<nomad_lite::Command> place_submitted(const jobs::JobStore& store,
                                                     const std::vector<Submitted>& submitted,
                                                     Clock::time_point now, int64_t wall_ms);

  // The assignments of a place_submitted() command that was not proposed after all (the core
  // refused it): they are no longer in flight.
  void forget_assignments(const nomad_lite::Command& command);

  // How long after the leader's last contact with its node an attempt of `job` is declared
  // lost: worker_timeout for keep-running jobs (the process may still run: at-least-once),
  // worker_timeout + kill_grace + lost_drift for the others (by then it is dead).
  std::chrono::milliseconds lost_after(const nomad_lite::Job& job) const;

  // Workers the leader has heard from within the timeout (for status pages).
  bool worker_alive(uint64_t node, Clock::time_point now) const;

 private:
  struct Worker {
    uint32_t slots = 0;
    std::shared_ptr<const nomad_lite::NodeCapacity> capacity;  // as last reported; null: none
    bool reported = false;
    Clock::time_point last_report{};
  };
  using AttemptId = std::pair<std::string, uint32_t>;

  void add_reports(const jobs::JobStore& store, Clock::time_point now,
                   nomad_lite::JobUpdates* updates);
  void add_lost(const jobs::JobStore& store, Clock::time_point now, int64_t wall_ms,
                nomad_lite::JobUpdates* updates);
  // Drains (README "Draining a node"): ends the attempts still running on a draining node at
  // its deadline (reason "drained"), and says when a draining node is empty (NodeDrained).
  void add_drains(const jobs::JobStore& store, Clock::time_point now, int64_t wall_ms,
                  nomad_lite::JobUpdates* updates, std::vector<nomad_lite::Command>* out);
  void add_assignments(const jobs::JobStore& store, Clock::time_point now, int64_t wall_ms,
                       nomad_lite::JobUpdates* updates);
  // Every known worker, with the assignments and finishes proposed for it and not yet applied.
  std::vector<jobs::WorkerView> worker_views(const jobs::JobStore& store,
                                             Clock::time_point now) const;
  bool add_removals(const jobs::JobStore& store, Clock::time_point now, int64_t wall_ms,
                    nomad_lite::RemoveJobs* remove);

  Options options_;
  bool leading_ = false;
  Clock::time_point leader_since_{};
  std::map<uint64_t, Worker> workers_;

  // Reports waiting to be proposed, keyed so that a resent report is proposed once.
  std::map<AttemptId, nomad_lite::JobStarted> started_;
  std::map<AttemptId, nomad_lite::JobFinished> finished_;
  // Proposed and not yet seen applied: not proposed again until they expire.
  std::map<AttemptId, Clock::time_point> started_sent_, finished_sent_;
  std::map<std::string, std::pair<uint64_t, Clock::time_point>> assigning_;  // job -> node
  std::map<uint64_t, uint32_t> slots_sent_;
  // Workers whose reported slots are neither committed nor proposed: collect() looks at these
  // only, not at every worker on every turn (a thousand agents report 2,000 times a second).
  std::set<uint64_t> slots_due_;
  std::map<uint64_t, std::shared_ptr<const nomad_lite::NodeCapacity>> capacity_sent_;
  // What jobs assigned with their submission (place_submitted) ask for, until the submission
  // applies: placement counts it as reserved on their node meanwhile.
  std::map<std::string, jobs::Usage> submitted_usage_;
  // NodeDrained proposed, by (node, drain index): not proposed again until it expires.
  std::map<std::pair<uint64_t, uint64_t>, Clock::time_point> drained_sent_;
  Clock::time_point next_retention_{};
  Clock::time_point next_sweep_{};      // of started_sent_ / finished_sent_
  Clock::time_point next_placement_{};  // a retry's backoff ends then
  bool dirty_ = true;                   // placement may have something to do
  uint64_t scheduling_seen_ = 0;        // JobStore::scheduling_version() placement last saw
  uint64_t placement_cursor_ = 0;       // the node that got the last assignment
};

}  // namespace nomad::node
