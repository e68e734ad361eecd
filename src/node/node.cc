#include "node/node.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "common/log.h"
#include "common/thread_name.h"
#include "common/unix_time.h"
#include "metrics/registry.h"
#include "node/job_event_log.h"
#include "node/store_log_sink.h"
#include "raft/membership.h"
#include "storage/sync_failure.h"

namespace nomad::node {

namespace {

struct NodeMetrics {
  metrics::Registry& r = metrics::default_registry();
  metrics::Counter& proposals =
      r.counter("nomad_lite_raft_proposals_total",
                "Log entries this node proposed as leader (client commands and its own).")
          .get();
  metrics::Counter& leader_changes =
      r.counter("nomad_lite_raft_leader_changes_total",
                "Times this node saw a new leader (the first one known included).")
          .get();
  metrics::Family<metrics::Counter>& worker_reports =
      r.counter("nomad_lite_worker_reports_received_total",
                "Worker reports this node took as leader, by sender (server or agent; an idle "
                "agent reports every 30 s).",
                {"sender"});
  metrics::Counter& server_reports = worker_reports.with({"server"});
  metrics::Counter& agent_reports = worker_reports.with({"agent"});
  metrics::Histogram& snapshot_seconds =
      r.histogram("nomad_lite_raft_snapshot_duration_seconds",
                  "Time to encode and write one snapshot of the job store.",
                  metrics::buckets::snapshot_seconds())
          .get();
  metrics::Gauge& snapshot_bytes =
      r.gauge("nomad_lite_raft_snapshot_size_bytes",
              "Size of the latest snapshot this node wrote or installed.")
          .get();
};

NodeMetrics& node_metrics() {
  static NodeMetrics* m = new NodeMetrics();  // never destroyed: threads may outlive main
  return *m;
}

// Counts the entries of an accepted proposal.
raft::ProposeResult counted(raft::ProposeResult r) {
  if (r.accepted) node_metrics().proposals.inc(r.last_index - r.first_index + 1);
  return r;
}

// Without durable storage this node cannot keep Raft's promises: stop it rather than lie.
[[noreturn]] void stop_on_storage_failure(const std::string& message, int exit_code) {
  common::log_critical("storage failure, stopping", {{"error", message}});
  spdlog::default_logger()->flush();
  std::_Exit(exit_code);
}

// A node built without a collaborator it cannot work without is a wiring mistake.
template <class T>
T& required(T* collaborator, const char* what) {
  if (!collaborator) {
    spdlog::critical("node::NodeDeps lacks its {}: the composition root must give one", what);
    spdlog::default_logger()->flush();
    std::abort();
  }
  return *collaborator;
}

}  // namespace

Node::Node(ServerConfig config, NodeDeps deps)
    : config_(std::move(config)),
      log_(required(deps.log, "log store")),
      snapshots_(required(deps.snapshots, "snapshot store")),
      peers_(required(deps.peers, "peer sender")),
      clock_(deps.clock ? *deps.clock : system_clock_),
      worker_(deps.worker ? *deps.worker : no_worker_) {}

Node::~Node() { stop(); }

std::string Node::address_of(raft::NodeId id) const {
  if (id == config_.node_id) return config_.advertise_address();
  {
    std::lock_guard lock(view_mu_);
    auto it = addresses_.find(id);
    if (it != addresses_.end()) return it->second;
  }
  for (const auto& p : config_.peers) {
    if (p.id == id) return p.address();
  }
  return {};
}

Status Node::start() {
  std::optional<storage::Snapshot> snapshot;
  if (Status s = snapshots_.load_latest(&snapshot); !s) return s;

  storage::WalContents contents;
  if (Status s = log_.recover(snapshot ? snapshot->index : 0, &contents); !s) return s;
  for (const auto& w : contents.warnings) spdlog::warn("{}", w);

  // The finished jobs kept and as many pending or running (capped: 16 MiB of buckets).
  jobs_.reserve(std::min<uint64_t>(2 * config_.retain_jobs, 1 << 21));
  raft::RestoredState restored;
  restored.hard_state = contents.hard_state;
  restored.entries = std::move(contents.entries);
  if (snapshot) {
    restored.snapshot_index = restored.applied = snapshot->index;
    restored.snapshot_term = snapshot->term;
    if (Status s = jobs_.restore(snapshot->data); !s) {
      return Status::error("snapshot in " + snapshots_.where() + ": " + s.message());
    }
    restored.snapshot_data = std::make_shared<const std::string>(std::move(snapshot->data));
    restored.snapshot_membership = std::move(snapshot->membership);
    jobs_index_ = snapshot->index;
    jobs_term_ = snapshot->term;
    // A node's term is never below the last term in its log. A restored or re-founded data
    // directory (server/backup.h) starts with a snapshot and no hard state yet.
    if (restored.hard_state.term < snapshot->term) {
      restored.hard_state.term = snapshot->term;
      restored.hard_state.vote = raft::kNoNode;
    }
  }
  spdlog::info("node {}: recovered term {}, commit {}, {} log entries after snapshot {}",
               config_.node_id, restored.hard_state.term, restored.hard_state.commit,
               restored.entries.size(), restored.snapshot_index);

  raft::Config rc;
  rc.id = config_.node_id;
  if (config_.joined) {
    rc.join = true;  // the membership comes from the leader (or what was stored of it)
  } else {
    rc.voters.push_back(config_.node_id);
    rc.addresses[config_.node_id] = config_.advertise_address();
    for (const auto& p : config_.peers) {
      rc.voters.push_back(p.id);
      rc.addresses[p.id] = p.address();
    }
  }
  auto ticks = [&](std::chrono::milliseconds d) {
    return std::max<int>(1,
                         static_cast<int>(d.count() / std::max<int64_t>(1, config_.tick.count())));
  };
  rc.election_ticks = ticks(config_.election_timeout);
  rc.heartbeat_ticks = ticks(config_.heartbeat_interval);
  rc.seed = std::random_device{}() ^ (static_cast<uint64_t>(getpid()) << 32);
  if (raft::Status s = rc.validate(); !s) return Status::error(s.message());
  last_term_ = restored.hard_state.term;
  core_ = std::make_unique<raft::Core>(rc, std::move(restored));

  peers_.start();
  log_sink_ = std::make_unique<StoreLogSink>(log_, snapshots_);
  log_writer_ = std::make_unique<LogWriter>(
      *log_sink_, [this](std::vector<raft::Message> ms) { peers_.send(std::move(ms)); },
      [this](LogWriteReport r) {
        {
          std::lock_guard lock(queue_mu_);
          log_reports_.push_back(std::move(r));
          if (log_reports_.size() > 1) return;
        }
        queue_cv_.notify_one();
      });
  log_writer_->start();

  Coordinator::Options co;
  co.self = config_.node_id;
  co.nodes = rc.voters;  // until the first Ready's membership (on_membership)
  if (co.nodes.empty()) co.nodes.push_back(config_.node_id);
  co.worker_timeout = config_.worker_timeout;
  co.kill_grace = config_.kill_grace;
  co.retain_jobs = config_.retain_jobs;
  co.retain_for = config_.retain_for;
  co.placement = config_.placement;
  coordinator_ = std::make_unique<Coordinator>(co);
  agent_reaper_ = AgentReaper(config_.forget_agents_after);

  worker_.start();
  collaborators_started_ = true;
  // Everything the log and snapshot already hold is news to the worker once the loop has
  // caught up with it.
  unseen_changes_ = jobs_.take_changes();

  publish_view();
  answer_runner_ = std::make_unique<CallbackRunner>();
  job_event_logger_ = std::make_unique<CallbackRunner>("job-log");
  loop_ = std::thread([this] {
    common::name_this_thread("raft-loop");
    run();
  });
  return Status::ok();
}

void Node::stop() {
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  post_job_events(std::nullopt);         // what the loop collected last
  if (log_writer_) log_writer_->stop();  // what the loop handed it is written (and answered)
  answer_runner_.reset();                // answers everything the loop handed it
  job_event_logger_.reset();             // and logs every job change it was handed
  if (snapshot_writer_.joinable()) snapshot_writer_.join();
  if (collaborators_started_) {
    worker_.stop();  // first gives up a report blocked on a stalled leader
    peers_.stop();
  }
  for (auto& [id, w] : job_waits_) w.done({}, false);
  job_waits_.clear();
}

Node::StateImage Node::state_image() const {
  std::shared_lock lock(jobs_mu_);
  return {jobs_index_, jobs_term_, jobs_.size(), jobs_.image(), image_membership_};
}

bool Node::is_leader() const {
  std::lock_guard lock(view_mu_);
  return view_.role == raft::Role::kLeader;
}

size_t Node::pending_proposals() const {
  std::lock_guard lock(queue_mu_);
  return waiting_;
}

raft::NodeId Node::leader_id() const {
  std::lock_guard lock(view_mu_);
  return view_.leader_id;
}

void Node::deliver_report(nomad_lite::WorkerReport report, ReportAck ack) {
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      reports_.push_back({std::move(report), std::move(ack)});
      if (reports_.size() == 1) queue_cv_.notify_one();
      return;
    }
  }
  if (ack) ack({});  // leader = false
}

void Node::agents_connected(std::vector<uint64_t> agents) {
  std::lock_guard lock(queue_mu_);
  connected_agents_ = std::move(agents);
}

void Node::ack_reports(std::vector<QueuedReport>& reports) {
  const bool leading = core_->role() == raft::Role::kLeader && coordinator_->leading();
  for (auto& r : reports) {
    if (!r.ack) continue;
    nomad_lite::WorkerReportAck ack;
    ack.set_seq(r.report.seq());
    if (leading) {
      ack.set_leader(true);
      ack.set_term(core_->term());
      ack.set_last_index(core_->log().last_index());
    }
    r.ack(ack);
  }
  reports.clear();
}

void Node::wait_job(std::string id, std::chrono::steady_clock::time_point deadline,
                    WaitCallback done) {
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      new_waits_.push_back({std::move(id), deadline, std::move(done)});
      if (new_waits_.size() == 1) queue_cv_.notify_one();
      return;
    }
  }
  done({}, false);
}

void Node::propose(std::string command, ProposeCallback done,
                   std::optional<Coordinator::Submitted> submitted) {
  ProposeOutcome refused;
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) {
      refused.code = ProposeOutcome::Code::kShutdown;
    } else if (waiting_ >= config_.max_pending_proposals) {
      refused.code = ProposeOutcome::Code::kOverloaded;
    } else {
      ++waiting_;
      proposals_.push_back({std::move(command), std::move(done), std::move(submitted)});
      if (proposals_.size() == 1) queue_cv_.notify_one();
      return;
    }
  }
  done(refused);
}

void Node::change_membership(raft::ConfChange change, ProposeCallback done) {
  ProposeOutcome refused;
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) {
      refused.code = ProposeOutcome::Code::kShutdown;
    } else {
      ++waiting_;
      conf_changes_.push_back({std::move(change), std::move(done)});
      if (conf_changes_.size() == 1) queue_cv_.notify_one();
      return;
    }
  }
  done(refused);
}

MembershipView Node::membership_view() const {
  std::lock_guard lock(view_mu_);
  return membership_view_;
}

void Node::handle_conf_changes(std::vector<ConfChangeRequest>& requests) {
  for (auto& r : requests) {
    ProposeOutcome refused;
    if (core_->storage_failed()) {
      refused = disk_full();
    } else if (core_->role() != raft::Role::kLeader) {
      refused = not_leader();
    } else {
      std::string why;
      raft::ProposeResult p = counted(core_->propose_conf_change(r.change, &why));
      if (p.accepted) {
        waiters_[p.first_index] = {p.term, std::move(r.done)};
        if (r.change.kind == raft::ConfChange::Kind::kRemove && r.change.id == config_.node_id) {
          self_removal_index_ = p.first_index;
        }
        common::log_info(
            fmt::format("node {}: proposed {} of node {} at index {}", config_.node_id,
                        raft::conf_change_kind_name(r.change.kind), r.change.id, p.first_index),
            {{"member", r.change.id}, {"index", p.first_index}});
        continue;
      }
      refused.code = ProposeOutcome::Code::kRefused;
      refused.detail = why;
    }
    {
      std::lock_guard lock(queue_mu_);
      --waiting_;
    }
    r.done(refused);
  }
  requests.clear();
}

void Node::on_membership(const raft::Membership& membership) {
  membership_ = membership;
  std::map<raft::NodeId, std::string> addresses;
  std::string listed;
  for (const auto& m : membership.members) {
    listed += (listed.empty() ? "" : ", ") + std::to_string(m.id) + (m.voter ? "" : " (learner)") +
              "@" + m.address;
    if (!m.address.empty()) addresses[m.id] = m.address;
  }
  common::log_info(fmt::format("node {}: members (as of index {}): {}", config_.node_id,
                               membership.index, listed.empty() ? "none yet" : listed),
                   {{"membership_index", membership.index}});
  {
    std::lock_guard lock(view_mu_);
    // Addresses of members gone stay known: a removed node's output may still be asked for.
    for (auto& [id, address] : addresses) addresses_[id] = address;
  }
  open_peer_streams();
  std::vector<uint64_t> nodes;
  for (const auto& m : membership.members) nodes.push_back(m.id);
  if (!nodes.empty()) coordinator_->set_nodes(std::move(nodes));
  publish_view();  // the answer to a change reads the members at once
}

void Node::open_peer_streams() {
  // A node that joined keeps the streams it was given at start until it learns the members.
  if (membership_.members.empty()) return;
  std::vector<PeerAddress> peers;
  auto add = [&](raft::NodeId id, const std::string& address) {
    size_t colon = address.rfind(':');
    if (id == config_.node_id || colon == std::string::npos || colon == 0) return;
    PeerAddress p;
    p.id = id;
    p.host = address.substr(0, colon);
    p.port = static_cast<uint16_t>(std::strtoul(address.c_str() + colon + 1, nullptr, 10));
    peers.push_back(std::move(p));
  };
  for (const auto& m : membership_.members) add(m.id, m.address);
  // A leader that removed itself replicates until that change commits (thesis §4.2.2), and
  // the answers that commit it must reach it: its stream stays open while it leads.
  if (last_leader_ != raft::kNoNode && !membership_.is_member(last_leader_)) {
    std::lock_guard lock(view_mu_);
    if (auto it = addresses_.find(last_leader_); it != addresses_.end()) {
      add(last_leader_, it->second);
    }
  }
  peers_.set_peers(peers);
}

void Node::receive(raft::Message message) {
  std::lock_guard lock(queue_mu_);
  inbox_.push_back(std::move(message));
  if (inbox_.size() == 1) queue_cv_.notify_one();
}

void Node::note_contact(raft::NodeId peer) {
  std::lock_guard lock(view_mu_);
  last_heard_[peer] = clock_.now();
}

void Node::run() {
  auto next_tick = clock_.now() + config_.tick;
  std::vector<Proposal> proposals;
  std::vector<raft::Message> inbox;
  std::vector<QueuedReport> reports;
  std::vector<JobWait> waits;
  std::vector<LogWriteReport> log_reports;
  std::vector<ReadBarrier> reads;
  std::vector<Transfer> transfers;
  std::vector<ConfChangeRequest> conf_changes;
  std::vector<uint64_t> connected;
  while (true) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait_for(lock, next_tick - clock_.now(), [&] {
        return stopping_ || !proposals_.empty() || !inbox_.empty() || snapshot_done_ ||
               !reports_.empty() || !new_waits_.empty() || !log_reports_.empty() ||
               !new_reads_.empty() || !new_transfers_.empty() || !conf_changes_.empty();
      });
      if (stopping_) break;
      reads.swap(new_reads_);
      transfers.swap(new_transfers_);
      log_reports.swap(log_reports_);
      proposals.swap(proposals_);
      inbox.swap(inbox_);
      reports.swap(reports_);
      waits.swap(new_waits_);
      conf_changes.swap(conf_changes_);
      connected.swap(connected_agents_);
    }
    for (const LogWriteReport& r : log_reports) handle_log_report(r);
    log_reports.clear();
    finish_snapshot();
    auto now = clock_.now();
    post_job_events(now);
    // A node that cannot write its log takes no part: it would only drop them, one warning each.
    if (core_->storage_failed()) inbox.clear();
    for (const auto& m : inbox) {
      std::string why;
      if (!core_->step(m, &why)) {
        common::log_warn("dropped a message from a peer", {{"peer", m.from}, {"error", why}});
      }
    }
    inbox.clear();
    // Reports first: the finishes they carry and the jobs placed in the freed slots go into
    // the same Ready as the clients' proposals (one fsync and one round for all of them).
    for (auto& r : reports) coordinator_->on_report(jobs_, r.report, now);
    if (!reports.empty() && coordinator_->leading()) {
      for (const auto& r : reports) {
        bool agent = jobs_.agent(r.report.node_id()) != nullptr;
        (agent ? node_metrics().agent_reports : node_metrics().server_reports).inc();
      }
      std::lock_guard lock(view_mu_);
      for (const auto& r : reports) worker_heard_[r.report.node_id()] = now;
    }
    if (!connected.empty()) {
      std::vector<uint64_t> heard = coordinator_->on_connected(jobs_, connected, now);
      std::lock_guard lock(view_mu_);
      for (uint64_t agent : heard) worker_heard_[agent] = now;
      connected.clear();
    }
    // The clients' proposals and the coordinator's commands: one propose(), one append.
    handle_proposals(proposals);
    proposals.clear();
    start_reads(reads);
    start_transfers(transfers);
    handle_conf_changes(conf_changes);
    probe_disk(now);
    // After the coordinator's proposals: an ack's index covers every verdict made so far.
    ack_reports(reports);
    bool ticked = now >= next_tick;
    if (ticked) {
      core_->tick();
      next_tick += config_.tick;
      if (next_tick < now) next_tick = now + config_.tick;  // we fell behind: do not burst
    }
    while (core_->has_ready()) handle_ready();

    if (soft_state_) {
      // The core reports role, leader and term when one of them changed.
      const raft::SoftState s = *soft_state_;
      soft_state_.reset();
      bool was_leader = last_role_ == raft::Role::kLeader;
      if (was_leader && (s.role != last_role_ || s.term != last_term_)) {
        fail_waiters(ProposeOutcome::Code::kRetry);
      }
      std::string leader = s.leader == raft::kNoNode
                               ? std::string("unknown")
                               : "node " + std::to_string(s.leader) + " at " + address_of(s.leader);
      // A leader change (or a new term, an election) is one line: role, term, leader.
      common::log_info("node " + std::to_string(config_.node_id) + ": " + raft::role_name(s.role) +
                           " in term " + std::to_string(s.term) + ", leader " + leader,
                       {{"role", raft::role_name(s.role)},
                        {"term", s.term},
                        {"leader", s.leader},
                        {"leader_changed", s.leader != last_leader_}});
      // A report stream to the old leader is of no more use (and a write to it may hang).
      if (s.leader != last_leader_) {
        for (const auto& listener : leader_listeners_) listener(s.leader);
        if (s.leader != raft::kNoNode) node_metrics().leader_changes.inc();
        worker_.leader_changed();
        // The lease is renewed by the new leader's first ack, not at the next heartbeat.
        if (s.leader != raft::kNoNode) pending_report_now_ = true;
      }
      if (s.role == raft::Role::kLeader && !was_leader) {
        coordinator_->become_leader(now);
      } else if (s.role != raft::Role::kLeader && was_leader) {
        coordinator_->lose_leadership();
        std::lock_guard lock(view_mu_);
        worker_heard_.clear();
      }
      raft::NodeId previous_leader = last_leader_;
      last_role_ = s.role;
      last_term_ = s.term;
      last_leader_ = s.leader;
      // The stream to a removed leader closes once another leads (open_peer_streams).
      if (previous_leader != s.leader && previous_leader != raft::kNoNode &&
          !membership_.members.empty() && !membership_.is_member(previous_leader)) {
        open_peer_streams();
      }
      check_transfers(now);
    }
    for (auto& w : waits) {
      const nomad_lite::Job* job = jobs_.find(w.id);
      if (!job || jobs::is_final(job->status())) {
        w.done(job ? *job : nomad_lite::Job{}, true);
      } else {
        job_waits_.emplace(w.id, std::move(w));
      }
    }
    waits.clear();
    // What the applied entries changed (a submission that found no free slot, a worker seen
    // for the first time) is acted on in this wake-up too.
    if (propose_coordinator_commands()) {
      while (core_->has_ready()) handle_ready();
    }
    if (ticked) {
      expire_job_waits(now);
      tick_reads(now);
      check_transfers(now);
    }
    maybe_snapshot();
    // Readers see the view at most one tick old; rebuilding it on every wake-up under load
    // would put allocations on the loop's hot path for nothing.
    if (ticked) publish_view();
    if (pending_report_now_ && ticked) {  // the view names the new leader now
      pending_report_now_ = false;
      worker_.report_now();
    }
  }
  fail_waiters(ProposeOutcome::Code::kShutdown);
  {
    std::lock_guard lock(queue_mu_);
    reads.swap(new_reads_);
    transfers.swap(new_transfers_);
  }
  for (auto& r : reads) r.done(Status::error("the node is shutting down"), 0);
  for (auto& t : transfers) t.done({.code = TransferOutcome::Code::kShutdown});
  fail_reads("the node is shutting down");
  fail_transfers(TransferOutcome::Code::kShutdown, "the node is shutting down");
  std::vector<Proposal> left;
  std::vector<JobWait> left_waits;
  {
    std::lock_guard lock(queue_mu_);
    left.swap(proposals_);
    left_waits.swap(new_waits_);
    reports.swap(reports_);
    waiting_ -= left.size();
  }
  for (auto& r : reports) {
    if (r.ack) r.ack({});  // leader = false: a unary Report call waits for its answer
  }
  for (auto& p : left) p.done({.code = ProposeOutcome::Code::kShutdown});
  for (auto& w : left_waits) w.done({}, false);
  std::vector<ConfChangeRequest> left_changes;
  {
    std::lock_guard lock(queue_mu_);
    left_changes.swap(conf_changes_);
    waiting_ -= left_changes.size();
  }
  for (auto& c : left_changes) c.done({.code = ProposeOutcome::Code::kShutdown});
}

ProposeOutcome Node::not_leader() const {
  ProposeOutcome out;
  out.code = ProposeOutcome::Code::kNotLeader;
  out.leader_id = core_->leader_id();
  if (out.leader_id != raft::kNoNode) out.leader_address = address_of(out.leader_id);
  return out;
}

ProposeOutcome Node::disk_full() const {
  ProposeOutcome out;
  out.code = ProposeOutcome::Code::kDiskFull;
  out.detail = "node " + std::to_string(config_.node_id) + ": disk full in " +
               config_.effective_data_dir() +
               ": it cannot write its log, so it takes no writes; free space there, then it "
               "resumes by itself (the other nodes take writes meanwhile)";
  return out;
}

void Node::handle_proposals(std::vector<Proposal>& proposals) {
  if (proposals.empty()) {
    propose_coordinator_commands();
    return;
  }
  raft::ProposeResult r;
  if (core_->storage_failed()) {
    ProposeOutcome refused = disk_full();
    {
      std::lock_guard lock(queue_mu_);
      waiting_ -= proposals.size();
    }
    for (auto& p : proposals) p.done(refused);
    return;
  }
  if (core_->role() == raft::Role::kLeader) {
    // The clients' commands, the placement of the jobs they submit, then the coordinator's
    // own commands, in one propose(): one append per follower and one acknowledgement for
    // all of them. Proposed one by one, they leave as separate appends that may commit in
    // different rounds; a submission applied without its assignment would then be placed a
    // second time (an entry, and often a round, more per job).
    std::vector<std::string> commands;
    std::vector<Coordinator::Submitted> submitted;
    commands.reserve(proposals.size() + 2);
    for (auto& p : proposals) {
      commands.push_back(std::move(p.command));
      if (p.submitted) submitted.push_back(std::move(*p.submitted));
    }
    std::optional<nomad_lite::Command> assign;
    if (!submitted.empty()) {
      assign = coordinator_->place_submitted(jobs_, submitted, clock_.now(), clock_.wall_ms());
    }
    if (assign) commands.push_back(assign->SerializeAsString());
    for (std::string& c : coordinator_commands()) commands.push_back(std::move(c));
    r = counted(core_->propose(std::move(commands)));
    if (!r.accepted && assign) coordinator_->forget_assignments(*assign);
  }
  if (!r.accepted) {
    ProposeOutcome refused = not_leader();
    {
      std::lock_guard lock(queue_mu_);
      waiting_ -= proposals.size();
    }
    for (auto& p : proposals) p.done(refused);
    return;
  }
  for (size_t i = 0; i < proposals.size(); ++i) {
    waiters_[r.first_index + i] = {r.term, std::move(proposals[i].done)};
  }
}

void Node::handle_ready() {
  raft::Ready rd = core_->ready();
  if (rd.membership) {
    std::unique_lock lock(jobs_mu_);
    image_membership_ = *rd.membership;  // for snapshot files' headers (state_image)
  }
  if (rd.snapshot) {
    // The core's log already starts after the snapshot, so the state machine takes it now;
    // the log writer makes it durable before anything written after it.
    storage::Snapshot snap{rd.snapshot->index, rd.snapshot->term, *rd.snapshot->data,
                           rd.snapshot->membership};
    {
      std::unique_lock lock(jobs_mu_);
      if (Status s = jobs_.restore(snap.data); !s) stop_on_storage_failure(s.message(), 1);
      jobs_index_ = snap.index;
      jobs_term_ = snap.term;
    }
    spdlog::info("node {}: installed snapshot at index {} from the leader", config_.node_id,
                 snap.index);
    node_metrics().snapshot_bytes.set(static_cast<double>(snap.data.size()));
    unsaved_snapshot_ = std::move(snap);
    unsaved_snapshot_queued_ = false;
  }
  if (rd.membership) on_membership(*rd.membership);
  if (rd.soft_state) {
    soft_state_ = rd.soft_state;
    // Before this Ready's entries apply: a lone node commits its first entry at once.
    if (rd.soft_state->role == raft::Role::kLeader) led_terms_.insert(rd.soft_state->term);
  }
  std::optional<LogWrite> write;
  // Until the probe lets it retry, the core hands out nothing that needs the disk.
  if (!core_->storage_failed()) {
    LogWrite w;
    if (unsaved_snapshot_ && !unsaved_snapshot_queued_) {
      w.snapshot = *unsaved_snapshot_;
      unsaved_snapshot_queued_ = true;
    }
    w.hard_state = rd.hard_state;
    w.entries = std::move(rd.entries);
    w.must_sync = rd.must_sync;
    // Votes and acknowledgements promise what is on disk: they leave once it is.
    w.after_append = std::move(rd.messages_after_append);
    if (w.snapshot || w.hard_state || !w.entries.empty() || !w.after_append.empty()) {
      write = std::move(w);
    }
  }
  // The write goes first: the writer thread syncs while this one sends and answers. The loop
  // never waits for the disk.
  if (write) log_writer_->submit(std::move(*write));
  // The core put here only what may leave before this Ready's write (a leader's appends and
  // heartbeats, thesis §10.2.1); it sorts them, never the node.
  peers_.send(std::move(rd.messages));
  // Committed entries are durable on a majority and on this node already: their answers need
  // not wait for the write of the newer entries in the same Ready.
  on_read_states(rd.read_states);
  apply(rd.committed);
  core_->advance();
  after_apply();
  release_reads();
}

void Node::handle_log_report(const LogWriteReport& r) {
  if (r.failure.is_ok()) {
    if (unsaved_snapshot_ && r.snapshot_saved == unsaved_snapshot_->index) {
      unsaved_snapshot_.reset();
    }
    if (r.persisted) core_->persisted(r.persisted->first, r.persisted->second);
    if (disk_full_since_ && !core_->storage_failed()) {
      auto seconds = std::chrono::duration<double>(clock_.now() - *disk_full_since_).count();
      common::log_info(fmt::format("node {}: writing to {} again after {:.1f} s with a full "
                                   "disk; rejoining as a follower",
                                   config_.node_id, config_.effective_data_dir(), seconds),
                       {{"data_dir", config_.effective_data_dir()}});
      disk_full_since_.reset();
    }
    return;
  }
  if (r.sync_failed) {
    stop_on_storage_failure(storage::sync_failure_message(r.failure), storage::kExitSyncFailed);
  }
  if (!r.out_of_space) stop_on_storage_failure(r.failure.message(), 1);
  // Nothing queued with or behind the failed write reached the disk: the core hands it all
  // out again once the probe finds space, the leader's snapshot first.
  unsaved_snapshot_queued_ = false;
  enter_disk_full(r.failure);
  core_->persist_failed();
  log_writer_->resume();
}

void Node::enter_disk_full(const Status& failure) {
  next_disk_probe_ = clock_.now() + kDiskProbeInterval;
  if (disk_full_since_) return;  // one line per episode, not one per retry
  disk_full_since_ = clock_.now();
  common::log_error(
      fmt::format(
          "node {}: disk full in {} ({}); {}this node writes nothing, refuses writes and takes "
          "no part in elections until space is freed; it retries every {} s and resumes by "
          "itself",
          config_.node_id, config_.effective_data_dir(), failure.message(),
          core_->role() == raft::Role::kLeader ? "stepping down as leader; " : "",
          kDiskProbeInterval.count()),
      {{"data_dir", config_.effective_data_dir()}, {"error", failure.message()}});
}

void Node::probe_disk(std::chrono::steady_clock::time_point now) {
  if (!core_->storage_failed() || now < next_disk_probe_) return;
  next_disk_probe_ = now + kDiskProbeInterval;
  core_->storage_recovered();
}

void Node::after_apply() {
  if (jobs_index_ > announced_index_) {
    announced_index_ = jobs_index_;
    for (const auto& listener : applied_listeners_) listener(announced_index_);
  }
  std::vector<std::string> changed = jobs_.take_changes();
  const bool caught_up = core_->applied_index() >= core_->commit_index();
  if (changed.empty() && unseen_changes_.empty() &&
      (core_->applied_index() == worker_applied_ || !caught_up)) {
    return;
  }
  if (!changed.empty()) {
    for (const auto& listener : jobs_listeners_) listener(changed);
  }
  coordinator_->on_applied(jobs_, changed);
  for (const auto& id : changed) {
    auto [first, last] = job_waits_.equal_range(id);
    if (first == last) continue;
    const nomad_lite::Job* job = jobs_.find(id);
    if (job && !jobs::is_final(job->status())) continue;
    for (auto it = first; it != last; ++it) it->second.done(job ? *job : nomad_lite::Job{}, true);
    job_waits_.erase(first, last);
  }
  unseen_changes_.insert(unseen_changes_.end(), changed.begin(), changed.end());
  // While the node replays entries it already knows are committed, the state is in the past:
  // an attempt assigned to it may already have ended later in the log. The worker acts on
  // the present only.
  if (core_->applied_index() < core_->commit_index()) return;
  std::sort(unseen_changes_.begin(), unseen_changes_.end());
  unseen_changes_.erase(std::unique(unseen_changes_.begin(), unseen_changes_.end()),
                        unseen_changes_.end());
  // The applied index matters even when no job changed: a lease's ack index may be waiting
  // for it (worker/lease.h).
  worker_applied_ = core_->applied_index();
  worker_.on_applied(jobs_, unseen_changes_, worker_applied_);
  unseen_changes_.clear();
}

void Node::post_job_events(std::optional<std::chrono::steady_clock::time_point> now) {
  if (job_events_.empty() || !job_event_logger_) return;
  if (now && *now < next_job_events_post_ && job_events_.size() < kJobEventsBatch) return;
  if (now) next_job_events_post_ = *now + kJobEventsEvery;
  std::vector<CallbackRunner::Callback> batch;
  batch.push_back([events = std::move(job_events_)] { log_job_events(events); });
  job_events_.clear();
  job_event_logger_->post(std::move(batch));
}

std::vector<std::string> Node::coordinator_commands() {
  std::vector<std::string> data;
  if (core_->role() != raft::Role::kLeader || !coordinator_->leading()) return data;
  std::vector<nomad_lite::Command> commands =
      coordinator_->collect(jobs_, clock_.now(), clock_.wall_ms());
  for (auto& c : periodic_launcher_.collect(jobs_, clock_.wall_ms(), clock_.now(), core_->term())) {
    commands.push_back(std::move(c));
  }
  for (auto& c : agent_reaper_.collect(jobs_, clock_.now(), clock_.wall_ms(), core_->term(),
                                       [this](uint64_t id) { return worker_contact_ms(id); })) {
    spdlog::info("agent {} silent for {} s with nothing running: forgetting it",
                 c.agent_forgotten().id(), c.agent_forgotten().silent_ms() / 1000);
    commands.push_back(std::move(c));
  }
  data.reserve(commands.size());
  for (const auto& c : commands) data.push_back(c.SerializeAsString());
  return data;
}

bool Node::propose_coordinator_commands() {
  std::vector<std::string> data = coordinator_commands();
  if (data.empty()) return false;
  // No one waits for these: their effect shows in the applied state.
  return counted(core_->propose(std::move(data))).accepted;
}

void Node::expire_job_waits(std::chrono::steady_clock::time_point now) {
  for (auto it = job_waits_.begin(); it != job_waits_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    const nomad_lite::Job* job = jobs_.find(it->first);
    it->second.done(job ? *job : nomad_lite::Job{}, false);
    it = job_waits_.erase(it);
  }
}

void Node::apply(const std::vector<raft::Entry>& committed) {
  if (committed.empty()) return;
  std::vector<jobs::ApplyResult> results;
  results.reserve(committed.size());
  // Job state changes are logged by the node that led the term of the entry making them, once
  // (README, Log formats); a restarted node remembers no term it led, so replays log nothing.
  const bool log_events =
      !led_terms_.empty() && spdlog::default_logger_raw()->should_log(spdlog::level::info);
  {
    std::unique_lock lock(jobs_mu_);
    for (const auto& e : committed) {
      jobs_.record_events(log_events && led_terms_.contains(e.term) ? &job_events_ : nullptr);
      results.push_back(jobs_.apply(e));
    }
    jobs_.record_events(nullptr);
    jobs_index_ = committed.back().index;
    jobs_term_ = committed.back().term;
  }
  std::vector<CallbackRunner::Callback> answers;
  for (size_t i = 0; i < committed.size(); ++i) {
    auto it = waiters_.find(committed[i].index);
    if (committed[i].type == raft::EntryType::kConfChange) {
      spdlog::info("node {}: membership change at index {} committed{}", config_.node_id,
                   committed[i].index, it == waiters_.end() ? "" : " (answering its proposer)");
    }
    if (it == waiters_.end()) continue;
    ProposeOutcome out;
    out.index = committed[i].index;
    if (it->second.term == committed[i].term) {
      out.result = std::move(results[i]);
      out.index = committed[i].index;
    } else {
      out.code = ProposeOutcome::Code::kRetry;  // another leader's entry took this index
    }
    answers.push_back([done = std::move(it->second.done), out = std::move(out)]() mutable {
      done(std::move(out));
    });
    waiters_.erase(it);
  }
  if (answers.empty()) return;
  {
    std::lock_guard lock(queue_mu_);
    waiting_ -= answers.size();
  }
  // A lone answer costs the loop little and a hand-off would only add latency; many are
  // answered on the runner's thread while the loop goes on replicating.
  if (answers.size() <= kInlineAnswers) {
    for (auto& a : answers) a();
  } else {
    answer_runner_->post(std::move(answers));
  }
}

void Node::fail_waiters(ProposeOutcome::Code code) {
  // A leader that removed itself steps down once that change commits (thesis §4.2.2), which
  // can be before the entry is handed out to apply: its caller hears that it committed.
  if (self_removal_index_ != 0) {
    spdlog::info("node {}: stepping down with its own removal at index {} (commit index {}, {})",
                 config_.node_id, self_removal_index_, core_->commit_index(),
                 waiters_.contains(self_removal_index_) ? "waited for" : "answered");
  }
  if (self_removal_index_ != 0 && core_->commit_index() >= self_removal_index_) {
    auto it = waiters_.find(self_removal_index_);
    if (it != waiters_.end()) {
      {
        std::lock_guard lock(queue_mu_);
        --waiting_;
      }
      ProposeOutcome out;
      out.index = self_removal_index_;
      it->second.done(std::move(out));
      waiters_.erase(it);
    }
    self_removal_index_ = 0;
  }
  if (waiters_.empty()) return;
  {
    // Uncounted before they are answered, as apply() does: whoever hears the answer and
    // proposes again finds the room it left.
    std::lock_guard lock(queue_mu_);
    waiting_ -= waiters_.size();
  }
  for (auto& [index, w] : waiters_) w.done({.code = code});
  waiters_.clear();
}

void Node::maybe_snapshot() {
  if (config_.snapshot_entries == 0 || snapshot_in_progress_) return;
  if (snapshot_failures_ > 0 && clock_.now() < next_snapshot_attempt_) return;
  if (unsaved_snapshot_) return;  // the leader's snapshot must be on disk first
  raft::Index applied = core_->applied_index();
  // A snapshot writes every job, so taking one every N entries costs more per entry the more
  // jobs there are. Waiting for as many entries as there are jobs keeps that cost flat; the
  // cap bounds what a restart replays (160,000 entries by default: well under a second).
  const uint64_t every = std::max<uint64_t>(
      config_.snapshot_entries,
      std::min<uint64_t>(jobs_.size(), kSnapshotEveryJobsCap * config_.snapshot_entries));
  if (applied < core_->snapshot().index + every) return;
  auto term = core_->log().term_at(applied);
  if (!term) return;
  // Only this thread writes the job store, so it can be read here without the lock. The image
  // shares the store's job segments (a pointer each, copied on write); serializing (mostly
  // reusing the encodings of unchanged segments) and fsyncing happen on another thread, so
  // the loop keeps committing meanwhile.
  auto image = std::make_shared<jobs::JobStoreImage>(jobs_.image());
  if (snapshot_writer_.joinable()) snapshot_writer_.join();
  snapshot_in_progress_ = true;
  // The configuration goes with the snapshot: the log entries that set it will be compacted.
  raft::Membership membership = core_->membership_at(applied);
  snapshot_writer_ = std::thread([this, applied, term = *term, image, membership] {
    common::name_this_thread("snapshot-write");
    // Background work: encoding tens of megabytes must not take the CPU from the loop and
    // gRPC's threads when they have work.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
    const auto start = std::chrono::steady_clock::now();
    auto data = std::make_shared<const std::string>(image->serialize());
    const auto encoded = std::chrono::steady_clock::now();
    Status s = snapshots_.save(applied, term, membership, *data);
    {
      std::lock_guard lock(queue_mu_);
      snapshot_done_ = SnapshotDone{
          applied, term, data, s, encoded - start, std::chrono::steady_clock::now() - encoded};
    }
    queue_cv_.notify_one();
  });
}

void Node::finish_snapshot() {
  std::optional<SnapshotDone> done;
  {
    std::lock_guard lock(queue_mu_);
    done.swap(snapshot_done_);
  }
  if (!done) return;
  snapshot_in_progress_ = false;
  if (!done->status) {
    // The log is not compacted; a full disk would fail the next attempt at once, so it waits.
    constexpr auto kSnapshotRetryDelay = std::chrono::seconds(10);
    next_snapshot_attempt_ = clock_.now() + kSnapshotRetryDelay;
    auto level = snapshot_failures_++ == 0 ? spdlog::level::err : spdlog::level::debug;
    common::log_with(level,
                     fmt::format("node {}: snapshot at index {} failed, retrying in {} s",
                                 config_.node_id, done->index, kSnapshotRetryDelay.count()),
                     {{"index", done->index}, {"error", done->status.message()}});
    return;
  }
  if (snapshot_failures_ > 0) {
    spdlog::info("node {}: snapshot written again after {} failed attempts", config_.node_id,
                 snapshot_failures_);
    snapshot_failures_ = 0;
  }
  // Compact only once the snapshot is durable; a snapshot installed from the leader in the
  // meantime may already cover more (compact() then changes nothing).
  if (core_->compact(done->index, done->data)) {
    // The writer owns the log: the old segments go once the writes queued before are done.
    LogWrite release;
    release.release_to = done->index;
    log_writer_->submit(std::move(release));
  }
  node_metrics().snapshot_seconds.observe(done->encode_time + done->write_time);
  node_metrics().snapshot_bytes.set(static_cast<double>(done->data->size()));
  using Ms = std::chrono::duration<double, std::milli>;
  spdlog::info(
      "node {}: snapshot at index {} ({} bytes; encoded in {:.1f} ms, written in {:.1f} ms)",
      config_.node_id, done->index, done->data->size(), Ms(done->encode_time).count(),
      Ms(done->write_time).count());
}

void Node::publish_view() {
  ClusterView v;
  v.node_id = config_.node_id;
  v.role = core_->role();
  v.term = core_->term();
  v.leader_id = core_->leader_id();
  v.leader_address = v.leader_id ? address_of(v.leader_id) : "";
  v.commit_index = core_->commit_index();
  v.applied_index = core_->applied_index();
  v.last_index = core_->log().last_index();
  std::vector<raft::NodeId> ids;
  for (const auto& m : membership_.members) ids.push_back(m.id);
  if (ids.empty()) ids.push_back(config_.node_id);  // joining: no membership yet
  for (raft::NodeId id : ids) {
    PeerView p;
    p.id = id;
    p.voter = membership_.members.empty() || membership_.is_voter(id);
    p.address = address_of(id);
    if (id == config_.node_id) {
      p.role = v.role;
      p.alive = true;
      p.match_index = core_->log().stable();
      p.last_contact_ms = 0;
    } else {
      if (v.leader_id) p.role = id == v.leader_id ? raft::Role::kLeader : raft::Role::kFollower;
      auto it = core_->progress().find(id);
      if (it != core_->progress().end()) p.match_index = it->second.match;
    }
    v.nodes.push_back(std::move(p));
  }
  MembershipView mv;
  mv.node_id = config_.node_id;
  mv.leader_id = v.leader_id;
  mv.leader_address = v.leader_address;
  mv.leader = v.role == raft::Role::kLeader;
  mv.last_index = v.last_index;
  mv.membership = membership_;
  if (mv.leader) mv.progress = core_->member_progress();
  std::lock_guard lock(view_mu_);
  view_ = std::move(v);
  membership_view_ = std::move(mv);
}

ClusterView Node::cluster_view() const {
  std::lock_guard lock(view_mu_);
  ClusterView v = view_;
  auto now = clock_.now();
  // Alive: heard from (keepalives come every 200 ms) within a few election timeouts.
  const int64_t alive_window = std::max<int64_t>(3 * config_.election_timeout.count(), 500);
  for (auto& p : v.nodes) {
    if (p.id == v.node_id) continue;
    int64_t heard = -1;
    if (auto it = last_heard_.find(p.id); it != last_heard_.end()) {
      heard = std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second).count();
    }
    p.last_contact_ms = heard;
    p.alive = heard >= 0 && heard <= alive_window;
  }
  return v;
}

int64_t Node::worker_contact_ms(uint64_t node) const {
  std::lock_guard lock(view_mu_);
  auto it = worker_heard_.find(node);
  if (it == worker_heard_.end()) return -1;
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - it->second).count();
}

}  // namespace nomad::node
