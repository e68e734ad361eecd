#pragma once

// A cluster member: the loop that owns the Raft core and wires it to its log store, snapshot
// store, peer sender, worker and the job store (docs/architecture.md: one submission, and the
// threads). It takes those through NodeDeps (node/node_deps.h) and builds none of them itself.
//
// One thread (the loop) owns the core. Everything else talks to it through a queue:
// proposals from the API, messages from peers, reports of the log writer. Each turn of the loop
// feeds those to the core, ticks it, then handles every Ready: send what may leave at once,
// apply, advance, and hand the write to the log writer's thread (node/log_writer.h), which
// makes it durable, sends what waited for it and reports back. The loop never waits for the
// disk. A proposal's
// callback runs once its entry is applied, or fails as soon as this node stops being leader:
// a client never hears "done" for something that is not committed.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "jobs/job_store.h"
#include "node/agent_reaper.h"
#include "node/callback_runner.h"
#include "node/coordinator.h"
#include "node/log_writer.h"
#include "node/node_deps.h"
#include "node/periodic_launcher.h"
#include "node/server_config.h"
#include "raft/core.h"
#include "storage/snapshot_store.h"

namespace nomad::node {

// How a proposal ended.
struct ProposeOutcome {
  enum class Code {
    kApplied,     // committed and applied: `result` says what it did
    kNotLeader,   // this node is not the leader; leader_id / leader_address say who is, if known
    kRetry,       // leadership changed before the entry committed: it may or may not apply
    kOverloaded,  // too many proposals waiting
    kShutdown,
    kDiskFull,  // this node cannot write its log until space is freed; `detail` says where
    kRefused,   // a membership change the core refused; `detail` says why
  };
  Code code = Code::kApplied;
  jobs::ApplyResult result{};
  raft::NodeId leader_id = raft::kNoNode;
  std::string leader_address{};
  std::string detail{};
  raft::Index index = 0;  // kApplied: the log index the entry committed at
};

// How a read barrier ended (Node::read_barrier): ok, and the index this node had applied then.
using ReadCallback = std::function<void(Status status, raft::Index applied)>;

// How a leadership transfer ended (Node::transfer_leadership).
struct TransferOutcome {
  enum class Code {
    kDone,           // `leader` leads now, in `term`
    kNotLeader,      // this node does not lead; `leader` does, if known
    kInvalidTarget,  // not a voter, or no follower to hand over to
    kUnreachable,    // the target has not been heard from lately
    kTimeout,        // no other leader was elected by the deadline
    kShutdown,
  };
  Code code = Code::kDone;
  raft::NodeId leader = raft::kNoNode;
  raft::Term term = 0;
  std::string detail{};
};
using TransferCallback = std::function<void(TransferOutcome)>;

using ProposeCallback = std::function<void(ProposeOutcome)>;

// A job waited for: `done` is true once it is final (or gone: then `job` has no id).
using WaitCallback = std::function<void(nomad_lite::Job job, bool done)>;

struct PeerView {
  raft::NodeId id = raft::kNoNode;
  bool voter = true;  // false: a learner
  std::string address;
  std::optional<raft::Role> role;  // as this node knows it; none while no leader is known
  bool alive = false;
  raft::Index match_index = 0;  // leader's view only
  int64_t last_contact_ms = -1;
};

// A peer's role as the wire and JSON show it: raft::role_name, or "unknown".
inline const char* peer_role_name(const std::optional<raft::Role>& role) {
  return role ? raft::role_name(*role) : "unknown";
}

struct ClusterView {
  raft::NodeId node_id = raft::kNoNode;
  raft::Role role = raft::Role::kFollower;
  raft::Term term = 0;
  raft::NodeId leader_id = raft::kNoNode;
  std::string leader_address{};
  raft::Index commit_index = 0;
  raft::Index applied_index = 0;
  raft::Index last_index = 0;   // of this node's log
  std::vector<PeerView> nodes;  // every member (voters and learners), this node included
};

// The membership as this node knows it (the latest appended configuration), with the
// leader's view of each member's progress when this node leads.
struct MembershipView {
  raft::NodeId node_id = raft::kNoNode;
  raft::NodeId leader_id = raft::kNoNode;
  std::string leader_address;
  bool leader = false;
  raft::Index last_index = 0;
  raft::Membership membership;
  std::vector<raft::MemberProgress> progress;  // leader only
};

class Node {
 public:
  // Every collaborator in `deps` must outlive the node.
  Node(ServerConfig config, NodeDeps deps);
  ~Node();

  // Recovers from the snapshot and log stores, starts the peer sender and the worker, then the
  // loop. An error names what is wrong with what was stored.
  Status start();
  void stop();

  // Thread-safe. `done` runs on the loop thread or the answer runner's: keep it short.
  // A submission names its job (`submitted`), so the leader can place it in the same round.
  void propose(std::string command, ProposeCallback done,
               std::optional<Coordinator::Submitted> submitted = std::nullopt);
  void receive(raft::Message message);
  // Proposes a membership change (leader only): `done` gets kApplied once it committed
  // (ProposeOutcome::index says where), kRefused with the core's reason, or the usual
  // refusals. Thread-safe.
  void change_membership(raft::ConfChange change, ProposeCallback done);
  MembershipView membership_view() const;
  // A peer showed it is up (any traffic from it, keepalives included).
  void note_contact(raft::NodeId peer);

  ClusterView cluster_view() const;

  // A worker's report (from this node's worker or, over InternalService, another's). Thread-safe.
  // `ack` is called on the loop thread once the report was processed (leader = false when this
  // node is not the leader, or stops first): after everything the coordinator proposed by
  // then, with the term and the last log index, so the worker's lease is ordered after every
  // verdict on its attempts proposed so far (worker/lease.h). It must only hand the ack on.
  using ReportAck = std::function<void(const nomad_lite::WorkerReportAck&)>;
  void deliver_report(nomad_lite::WorkerReport report, ReportAck ack = {});
  // The worker-only agents whose streams from this leader are open now (api/agent_streams.h):
  // an idle one among them counts as heard from. Thread-safe; taken at the loop's next turn.
  void agents_connected(std::vector<uint64_t> agents);
  bool is_leader() const;
  // Proposals queued or waiting for their entry to apply (at most max_pending_proposals).
  size_t pending_proposals() const;
  // The leader as of the last published view (at most one tick old); kNoNode when unknown.
  raft::NodeId leader_id() const;
  // Calls `done` on the loop thread once the job is final, or with done = false at `deadline`.
  void wait_job(std::string id, std::chrono::steady_clock::time_point deadline, WaitCallback done);

  // Calls `done` (on the loop thread) once this node has applied `min_index` and, when
  // `linearizable`, the leader's commit index confirmed by a heartbeat round (ReadIndex,
  // thesis §6.4): a read of the job store then sees every write acknowledged before the call.
  // At `deadline`, `done` gets an error saying what it waited for. (node/read_barrier.cc)
  void read_barrier(raft::Index min_index, bool linearizable,
                    std::chrono::steady_clock::time_point deadline, ReadCallback done);

  // On the leader: hands leadership to `target` (kNoNode: the follower holding the most of the
  // log) and calls `done` once another node leads, or with the reason it could not.
  // (node/leadership_transfer.cc)
  void transfer_leadership(raft::NodeId target, std::chrono::steady_clock::time_point deadline,
                           TransferCallback done);
  // The applied job store at one moment and the log position it reflects, for a backup
  // (`operator snapshot save`). Cheap: the image shares the store's job segments; serialize it
  // on the caller's thread.
  struct StateImage {
    raft::Index index = 0;  // last entry applied to it
    raft::Term term = 0;    // that entry's term
    size_t job_count = 0;
    jobs::JobStoreImage jobs;
    raft::Membership membership{};  // the latest configuration this node knows
  };
  StateImage state_image() const;

  // Runs `read` with the job store under a shared lock.
  template <class F>
  auto read_jobs(F&& read) const {
    std::shared_lock lock(jobs_mu_);
    return read(jobs_);
  }

  // Runs `read` with the job store and the index of the last entry applied to it, under a
  // shared lock.
  template <class F>
  auto read_jobs_at(F&& read) const {
    std::shared_lock lock(jobs_mu_);
    return read(jobs_, static_cast<uint64_t>(jobs_index_));
  }

  // The leader's last receipt of a report from worker `node` (a server's or an agent's), in
  // milliseconds ago; -1 when this node does not lead or has not heard from it.
  int64_t worker_contact_ms(uint64_t node) const;

  const ServerConfig& config() const { return config_; }
  std::string address_of(raft::NodeId id) const;

  // `listener` hears, on the loop thread after each apply, the ids of the jobs that changed or
  // were removed. It must only take note and return: the loop commits nothing meanwhile.
  // Add listeners before start().
  using JobsListener = std::function<void(const std::vector<std::string>& ids)>;
  void add_jobs_listener(JobsListener listener) { jobs_listeners_.push_back(std::move(listener)); }

  // `listener` hears, on the loop thread after each apply that moved it, the index of the last
  // entry applied to the job store, whether or not a job changed (an ack's index may wait for
  // it: worker/lease.h). It must only take note and return. Add listeners before start().
  using AppliedListener = std::function<void(uint64_t index)>;
  void add_applied_listener(AppliedListener listener) {
    applied_listeners_.push_back(std::move(listener));
  }

  // `listener` hears, on the loop thread, each change of the leader this node knows
  // (raft::kNoNode: none known). It must only take note and return. Add listeners before start().
  using LeaderListener = std::function<void(raft::NodeId leader)>;
  void add_leader_listener(LeaderListener listener) {
    leader_listeners_.push_back(std::move(listener));
  }

 private:
  struct Proposal {
    std::string command;
    ProposeCallback done;
    std::optional<Coordinator::Submitted> submitted;
  };
  struct Waiter {
    raft::Term term;
    ProposeCallback done;
  };
  struct ConfChangeRequest {
    raft::ConfChange change;
    ProposeCallback done;
  };
  void handle_conf_changes(std::vector<ConfChangeRequest>& requests);
  // The effective membership changed (loop thread): peers' streams, addresses, placement.
  void on_membership(const raft::Membership& membership);
  // Peer streams to every member, and to a removed leader while it still leads.
  void open_peer_streams();
  struct QueuedReport {
    nomad_lite::WorkerReport report;
    ReportAck ack;
  };
  // Answers the reports processed in this turn of the loop (see deliver_report).
  void ack_reports(std::vector<QueuedReport>& reports);

  void run();
  // Proposes the clients' commands together with the placement of the jobs they submit (when
  // nothing else waits: Coordinator::place_submitted) and the coordinator's commands.
  void handle_proposals(std::vector<Proposal>& proposals);
  void handle_ready();
  // What the log writer made durable (Core::persisted), or its failure: a full disk takes the
  // node out until probe_disk() finds space; any other storage failure stops the process.
  void handle_log_report(const LogWriteReport& report);
  void enter_disk_full(const Status& failure);
  // While the disk is full: every kDiskProbeInterval, lets the core hand out again what it
  // could not write, so the next Ready retries it.
  void probe_disk(std::chrono::steady_clock::time_point now);
  ProposeOutcome disk_full() const;
  void apply(const std::vector<raft::Entry>& committed);
  void fail_waiters(ProposeOutcome::Code code);
  void maybe_snapshot();
  void finish_snapshot();
  void publish_view();
  ProposeOutcome not_leader() const;
  void after_apply();
  // Proposes what the coordinator has to say (finishes, placements, lost attempts); the
  // caller writes and sends it with the next Ready. False when there was nothing.
  bool propose_coordinator_commands();
  // What the coordinator has to propose now, serialized (nothing unless leading).
  std::vector<std::string> coordinator_commands();
  void expire_job_waits(std::chrono::steady_clock::time_point now);

  // Read barriers (read_barrier.cc), on the loop thread.
  struct ReadBarrier {
    raft::Index min_index = 0;
    bool linearizable = false;
    std::chrono::steady_clock::time_point deadline;
    ReadCallback done;
  };
  void start_reads(std::vector<ReadBarrier>& reads);
  void on_read_states(const std::vector<raft::ReadState>& states);
  // Answers the barriers this node has applied far enough.
  void release_reads();
  // Retries reads no leader could confirm, and fails those past their deadline.
  void tick_reads(std::chrono::steady_clock::time_point now);
  void fail_reads(const std::string& why);
  std::vector<ReadBarrier> new_reads_;             // guarded by queue_mu_
  std::map<uint64_t, ReadBarrier> reads_in_core_;  // waiting for the read index
  std::vector<ReadBarrier> reads_to_retry_;        // no leader confirmed them yet
  std::multimap<raft::Index, ReadBarrier> reads_to_apply_;
  uint64_t next_read_id_ = 1;

  // Leadership transfers (leadership_transfer.cc), on the loop thread.
  struct Transfer {
    raft::NodeId target = raft::kNoNode;
    std::chrono::steady_clock::time_point deadline;
    TransferCallback done;
    raft::Term started_term = 0;
  };
  void start_transfers(std::vector<Transfer>& transfers);
  // After a soft state change or a tick: answers transfers that ended.
  void check_transfers(std::chrono::steady_clock::time_point now);
  void fail_transfers(TransferOutcome::Code code, const std::string& why);
  std::vector<Transfer> new_transfers_;  // guarded by queue_mu_
  std::vector<Transfer> transfers_;

  struct JobWait {
    std::string id;
    std::chrono::steady_clock::time_point deadline;
    WaitCallback done;
  };

  ServerConfig config_;
  SystemClock system_clock_;
  NoWorker no_worker_;
  LogStore& log_;
  SnapshotStorage& snapshots_;
  PeerSender& peers_;
  Clock& clock_;
  WorkerHooks& worker_;
  std::unique_ptr<raft::Core> core_;

  mutable std::shared_mutex jobs_mu_;
  jobs::JobStore jobs_;
  raft::Index jobs_index_ = 0;  // the entry jobs_ reflects last, and its term (jobs_mu_)
  raft::Term jobs_term_ = 0;
  raft::Membership image_membership_;  // the effective configuration, for state_image (jobs_mu_)

  // The queue into the loop.
  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<Proposal> proposals_;
  std::vector<raft::Message> inbox_;
  std::vector<QueuedReport> reports_;
  std::vector<uint64_t> connected_agents_;  // guarded by queue_mu_; the newest list only
  std::vector<JobWait> new_waits_;
  std::vector<ConfChangeRequest> conf_changes_;
  size_t waiting_ = 0;  // proposals queued or waiting for commit
  bool stopping_ = false;

  // A snapshot written by snapshot_writer_ and reported back to the loop through the queue.
  struct SnapshotDone {
    raft::Index index = 0;
    raft::Term term = 0;
    std::shared_ptr<const std::string> data;
    Status status;
    std::chrono::steady_clock::duration encode_time{}, write_time{};
  };
  std::optional<SnapshotDone> snapshot_done_;  // guarded by queue_mu_
  std::thread snapshot_writer_;
  bool snapshot_in_progress_ = false;  // loop thread
  // A snapshot waits for up to this many times --snapshot-entries when the store holds more
  // jobs than that (see maybe_snapshot).
  static constexpr uint64_t kSnapshotEveryJobsCap = 16;
  // Loop thread: after a failed snapshot, the next one waits (a full disk would fail it again).
  std::chrono::steady_clock::time_point next_snapshot_attempt_{};
  size_t snapshot_failures_ = 0;  // in a row; only the first is logged as an error

  // A full disk (loop thread). The episode starts at the first write that fails for want of
  // space and ends at the first that succeeds again; it is logged once at each end.
  static constexpr std::chrono::seconds kDiskProbeInterval{1};
  std::optional<std::chrono::steady_clock::time_point> disk_full_since_;
  std::chrono::steady_clock::time_point next_disk_probe_{};
  // A snapshot from the leader, already restored into the job store, not yet durable.
  std::optional<storage::Snapshot> unsaved_snapshot_;
  bool unsaved_snapshot_queued_ = false;  // handed to the log writer, no report yet

  // The log writer and what it reported (guarded by queue_mu_).
  std::unique_ptr<LogSink> log_sink_;
  std::unique_ptr<LogWriter> log_writer_;
  std::vector<LogWriteReport> log_reports_;

  // Loop-thread state.
  std::map<raft::Index, Waiter> waiters_;
  // Answers to applied proposals run here when there are more than kInlineAnswers at once.
  static constexpr size_t kInlineAnswers = 2;
  std::unique_ptr<CallbackRunner> answer_runner_;
  // The job changes' log lines are written on a thread of their own, handed over in batches
  // at most every kJobEventsEvery (or kJobEventsBatch changes): a write per line, or a
  // wake-up of that thread per apply, would cost the loop at high submission rates.
  std::unique_ptr<CallbackRunner> job_event_logger_;
  std::vector<jobs::JobEvent> job_events_;  // loop thread: not yet handed over
  std::chrono::steady_clock::time_point next_job_events_post_{};
  static constexpr std::chrono::milliseconds kJobEventsEvery{20};
  static constexpr size_t kJobEventsBatch = 4096;
  // Hands job_events_ to job_event_logger_ when due at `now` (nullopt: at once).
  void post_job_events(std::optional<std::chrono::steady_clock::time_point> now);
  std::set<raft::Term> led_terms_;  // terms this node led since it started (loop thread)
  std::unique_ptr<Coordinator> coordinator_;
  PeriodicLauncher periodic_launcher_;  // the leader's periodic ticks (loop thread)
  AgentReaper agent_reaper_{std::chrono::milliseconds(0)};  // the leader's forgetting of agents
  bool collaborators_started_ = false;                      // the peer sender and the worker
  std::vector<std::string> unseen_changes_;  // jobs changed since the worker last looked
  raft::Index worker_applied_ = 0;           // the applied index the worker last saw
  bool pending_report_now_ = false;          // a new leader is known: report to it at once
  std::multimap<std::string, JobWait> job_waits_;
  std::vector<JobsListener> jobs_listeners_;        // fixed once the loop runs
  std::vector<LeaderListener> leader_listeners_;    // fixed once the loop runs
  std::vector<AppliedListener> applied_listeners_;  // fixed once the loop runs
  raft::Index announced_index_ = 0;                 // the last index applied_listeners_ heard
  raft::Role last_role_ = raft::Role::kFollower;
  raft::Term last_term_ = 0;
  raft::NodeId last_leader_ = raft::kNoNode;
  std::optional<raft::SoftState> soft_state_;  // the latest one a Ready reported, not yet acted on
  std::thread loop_;

  // Published by the loop for readers.
  mutable std::mutex view_mu_;
  ClusterView view_;
  MembershipView membership_view_;
  raft::Membership membership_;                    // loop thread's copy
  raft::Index self_removal_index_ = 0;             // this leader proposed its own removal there
  std::map<raft::NodeId, std::string> addresses_;  // of every member, guarded by view_mu_
  std::map<raft::NodeId, std::chrono::steady_clock::time_point> last_heard_;
  // Workers' reports as this leader received them (guarded by view_mu_; cleared when it
  // stops leading).
  std::map<uint64_t, std::chrono::steady_clock::time_point> worker_heard_;
};

}  // namespace nomad::node
