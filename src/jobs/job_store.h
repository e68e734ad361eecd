#pragma once

// The replicated state machine: every node applies the same committed commands in the same
// order and so holds the same jobs. Only the node loop thread mutates it; readers hold the
// node's shared lock.
//
// A job's life (docs/architecture.md, "A job's life"): pending → running (an attempt is
// assigned to a node) → completed | failed | cancelled, or back to pending when a failed
// attempt is retried.
// Reports name (job id, attempt): one about an attempt that is no longer current is ignored.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "jobs/failure_reason.h"
#include "jobs/job_events.h"
#include "jobs/job_segments.h"
#include "jobs/resources.h"
#include "proto/nomad_lite.pb.h"
#include "raft/types.h"

namespace nomad::jobs {

// The outcome of applying one command, handed to the client that proposed it.
struct ApplyResult {
  Status status;        // a command that was valid when proposed may fail at apply time
  nomad_lite::Job job;  // the job the command created or changed
  nomad_lite::PeriodicJob periodic{};  // the periodic job a periodic command created or changed
  uint64_t agent_id = 0;  // an AgentRegistered: the id the agent has (jobs/agent_ids.h)
};

struct ListQuery {
  nomad_lite::JobStatus status = nomad_lite::JOB_STATUS_UNSPECIFIED;  // any
  std::string command_contains;
  size_t limit = 100;
  uint64_t before_submit_index = 0;  // page token: continue below this submission (0: newest)
};

struct ListPage {
  std::vector<nomad_lite::Job> jobs;  // newest first
  uint64_t next_before = 0;           // 0: this was the last page
  uint64_t total = 0;                 // matches over all pages
};

// Counters for the dashboard's rates and totals.
struct JobTotals {
  uint64_t submitted = 0;  // jobs ever created (a repeated idempotency key creates none)
  uint64_t finished = 0;   // jobs ever ended: completed, failed or cancelled
  // Jobs held now, by status (index: nomad_lite::JobStatus).
  std::array<uint64_t, nomad_lite::JobStatus_ARRAYSIZE> by_status{};
};

// The state of the store at one moment, taken cheaply on the loop thread and serialized
// elsewhere: it shares the store's job segments (copied on write, see job_segments.h), so
// taking one costs a pointer copy per segment, and serializing reuses the encoding of every
// segment unchanged since it was last encoded. Restore rebuilds every index from the jobs
// themselves (submission order, idempotency keys), so the image holds nothing else.
struct JobStoreImage {
  std::vector<SegmentPtr> segments;  // jobs in submission order
  std::map<uint64_t, uint32_t> node_slots;
  std::map<uint64_t, nomad_lite::NodeCapacity> node_capacity;
  std::map<uint64_t, nomad_lite::NodeScheduling> node_scheduling;
  std::map<uint64_t, nomad_lite::AgentRegistered> agents;
  uint64_t highest_agent_id = 0;
  std::vector<nomad_lite::PeriodicJob> periodic;
  uint64_t jobs_submitted = 0;
  uint64_t jobs_finished = 0;

  std::string serialize() const;
};

// A pending job in placement order: higher priority first, then first submitted first.
struct QueueKey {
  int32_t neg_priority;
  uint64_t submit_index;
  bool operator<(const QueueKey& o) const {
    return neg_priority != o.neg_priority ? neg_priority < o.neg_priority
                                          : submit_index < o.submit_index;
  }
};

// Backoff before attempt `next_attempt` of a job whose previous attempt failed.
int64_t retry_backoff_ms(uint32_t next_attempt);
// Backoff before rerunning a job after its `lost_so_far`-th attempt lost with its node.
int64_t lost_retry_backoff_ms(uint32_t lost_so_far);
// is_node_fault of a recorded reason (an Attempt's); false for text that names no reason.
bool is_node_fault(const std::string& reason);

class JobStore {
 public:
  ApplyResult apply(const raft::Entry& entry);
  // Sizes the hash indexes for `jobs` up front: growing them rehashes every job at once, a
  // stall of tens of milliseconds on the loop thread at a hundred thousand jobs.
  void reserve(size_t jobs);

  const nomad_lite::Job* find(const std::string& id) const;
  std::shared_ptr<const nomad_lite::Job> find_shared(const std::string& id) const;
  ListPage list(const ListQuery& query) const;
  size_t size() const { return jobs_.size(); }

  // Placement inputs.
  const std::map<QueueKey, std::string>& pending_queue() const { return pending_; }
  // A submission with this key was applied (a retry of it returns that job).
  bool has_idempotency_key(const std::string& key) const {
    return idempotency_keys_.count(key) > 0;
  }
  size_t running_on(uint64_t node) const;
  const std::set<std::string>* running_jobs_on(uint64_t node) const;
  // Every node with attempts running (or placed) on it, member of the cluster or not.
  const std::map<uint64_t, std::set<std::string>>& running_by_node() const { return running_; }
  const std::map<uint64_t, uint32_t>& node_slots() const { return node_slots_; }
  // What each node's worker offers (CPU, memory, labels), as the leader last replicated it
  // (NodeSlots.capacity); a node never reported is missing, and placement knows no limits there.
  const std::map<uint64_t, nomad_lite::NodeCapacity>& node_capacity() const {
    return node_capacity_;
  }
  const nomad_lite::NodeCapacity* capacity_of(uint64_t node) const;
  // CPU and memory the attempts running (or queued) on `node` asked for.
  Usage reserved_on(uint64_t node) const;
  // Drain and eligibility (jobs/node_scheduling.cc): only nodes that are not eligible, or
  // whose drain completed, are listed; any other node is eligible.
  const std::map<uint64_t, nomad_lite::NodeScheduling>& node_scheduling() const {
    return node_scheduling_;
  }
  bool eligible(uint64_t node) const;
  // The node's scheduling state, eligible and never drained when it is not listed.
  nomad_lite::NodeScheduling scheduling_of(uint64_t node) const;
  // Grows with every applied change of node_scheduling() (and every restore): a node made
  // eligible again changes no job, yet placement has something new to do.
  uint64_t scheduling_version() const { return scheduling_version_; }
  // Why a pending job waits, from this node's applied state.
  std::string pending_reason(const nomad_lite::Job& job, int64_t now_ms) const;
  // Every eligible node that runs jobs, with what it has free by the applied state.
  std::vector<NodeRoom> node_rooms() const;

  // Every worker-only agent ever registered, by id (ids are never reused: jobs/agent_ids.h).
  const std::map<uint64_t, nomad_lite::AgentRegistered>& agents() const { return agents_; }
  const nomad_lite::AgentRegistered* agent(uint64_t id) const;
  // The highest agent id ever given, forgotten agents included (ids are never reused).
  uint64_t highest_agent_id() const { return highest_agent_id_; }

  // An agent's copy of the leader's jobs (server/agent_mirror.h), filled from its stream
  // rather than by applying entries: puts the job as it is, or drops it. Both note the change
  // for take_changes().
  void mirror_put(nomad_lite::Job job);
  void mirror_erase(const std::string& id);
  void mirror_clear();

  // Periodic jobs (jobs/periodic.h, job_store_periodic.cc), by id; cancelled ones included.
  const std::map<std::string, nomad_lite::PeriodicJob>& periodic() const { return periodic_; }
  const nomad_lite::PeriodicJob* find_periodic(const std::string& id) const;
  // Grows with every applied change of a periodic job's schedule or state (and every
  // restore): the leader's launcher computes its next tick again then.
  uint64_t periodic_version() const { return periodic_version_; }

  // Retention: finished jobs, oldest finish first.
  const std::set<std::pair<int64_t, std::string>>& finished_order() const { return finished_; }

  const JobTotals& totals() const { return totals_; }

  // Ids of the jobs changed by apply()/restore() since the last call.
  std::vector<std::string> take_changes();

  // While `sink` is set, apply() appends each job state change it makes to it (null: none).
  void record_events(std::vector<JobEvent>* sink) { events_ = sink; }

  JobStoreImage image() const;
  std::string snapshot() const { return image().serialize(); }
  Status restore(const std::string& data);

 private:
  ApplyResult apply_command(const raft::Entry& entry);
  ApplyResult submit(nomad_lite::SubmitJobCommand* command, raft::Index index);
  ApplyResult cancel(const nomad_lite::CancelJobCommand& command);
  ApplyResult updates(const nomad_lite::JobUpdates& updates);
  ApplyResult remove(const nomad_lite::RemoveJobs& command);
  ApplyResult set_node_scheduling(const nomad_lite::SetNodeScheduling& command, raft::Index index);
  ApplyResult node_drained(const nomad_lite::NodeDrained& command);
  ApplyResult agent_registered(const nomad_lite::AgentRegistered& command);
  ApplyResult agent_forgotten(const nomad_lite::AgentForgotten& command);
  void assign(const nomad_lite::AssignJob& a, int64_t at_ms);
  ApplyResult periodic_create(const nomad_lite::PeriodicJob& created);
  ApplyResult periodic_ticks(const nomad_lite::PeriodicTicks& ticks, raft::Index index);
  ApplyResult periodic_control(const nomad_lite::PeriodicControl& control, raft::Index index);
  // Submits the periodic job's child `id` for `tick_ms` (0: run-now) and keeps its last
  // keep_runs children, removing the older ones that are finished.
  ApplyResult launch_child(nomad_lite::PeriodicJob& periodic, const std::string& id,
                           int64_t tick_ms, int64_t at_ms, raft::Index index);
  void record_not_run(nomad_lite::PeriodicJob& periodic, int64_t tick_ms,
                      nomad_lite::PeriodicRunKind kind, int64_t at_ms);
  // A child of a periodic job became final: its run and the counts say so.
  void note_child_ended(const nomad_lite::Job& child);
  void started(const nomad_lite::JobStarted& s);
  void finished(const nomad_lite::JobFinished& f);

  // Copy-on-write: a change replaces the pointer, so an image taken earlier stays intact.
  // edit() takes the job out of the derived indexes; put() stores it and indexes it again.
  std::shared_ptr<nomad_lite::Job> edit(const std::string& id);
  void put(std::shared_ptr<nomad_lite::Job> job);
  void index(const nomad_lite::Job& job);
  void unindex(const nomad_lite::Job& job);

  std::unordered_map<std::string, JobPtr> jobs_;
  JobSegments by_submit_index_;                                    // submission order
  std::unordered_map<std::string, std::string> idempotency_keys_;  // key -> job id
  std::map<uint64_t, uint32_t> node_slots_;
  std::map<uint64_t, nomad_lite::NodeCapacity> node_capacity_;
  std::map<uint64_t, nomad_lite::NodeScheduling> node_scheduling_;
  std::map<uint64_t, nomad_lite::AgentRegistered> agents_;
  uint64_t highest_agent_id_ = 0;
  uint64_t scheduling_version_ = 0;  // not replicated: each node counts its own applies
  std::map<std::string, nomad_lite::PeriodicJob> periodic_;
  uint64_t periodic_version_ = 0;  // not replicated, as scheduling_version_

  // --after (job_store_after.cc). A pending job waiting for jobs not yet final is not in the
  // placement queue but here, under each job it waits for (derived, rebuilt on restore).
  std::map<std::string, std::set<std::string>> waiting_on_;
  std::vector<std::string> ended_with_waiters_;  // became final in this apply, with dependents
  // The first job `job` waits for that is not final yet, or null.
  const nomad_lite::Job* first_unmet(const nomad_lite::Job& job) const;
  // Why `after` cannot be taken ("" when it can), and whether one of its jobs failed.
  std::string check_after(const nomad_lite::Job& job, const nomad_lite::Job** failed) const;
  // Releases or fails the dependents of the jobs that became final in this apply.
  void resolve_dependents();
  void fail_for_dependency(nomad_lite::Job& job, const nomad_lite::Job& dependency, int64_t at_ms);

  // Derived from jobs_, rebuilt on restore.
  std::map<QueueKey, std::string> pending_;
  std::map<uint64_t, std::set<std::string>> running_;   // node -> jobs running there
  std::map<uint64_t, Usage> reserved_;                  // node -> what those jobs asked for
  std::set<std::pair<int64_t, std::string>> finished_;  // (finished_at_ms, id)

  std::vector<std::string> changes_;
  std::vector<JobEvent>* events_ = nullptr;
  void record(JobEvent event) {
    if (events_) events_->push_back(std::move(event));
  }
  void mark_started(nomad_lite::Job& job, uint32_t attempt, uint64_t node, int64_t at_ms);
  JobTotals totals_;
};

// The job's current attempt (its last), or null.
const nomad_lite::Attempt* last_attempt(const nomad_lite::Job* job);
// The job's attempt number `number`, or null (unknown job or attempt).
const nomad_lite::Attempt* find_attempt(const nomad_lite::Job* job, uint32_t number);
// The job's current attempt if it is number `number` and still running, else null.
const nomad_lite::Attempt* running_attempt(const nomad_lite::Job* job, uint32_t number);
// Whether apply() would take this report for `job` (null: unknown job). Workers and the leader
// use it to stop sending reports that would change nothing.
bool would_apply(const nomad_lite::Job* job, const nomad_lite::JobStarted& report);
bool would_apply(const nomad_lite::Job* job, const nomad_lite::JobFinished& report);

const char* status_name(nomad_lite::JobStatus status);  // "pending", "running", ...
bool is_final(nomad_lite::JobStatus status);

}  // namespace nomad::jobs
