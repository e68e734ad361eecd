// The event loop of one seed: node inputs and disk writes, message delivery, clients and the
// liveness check. Fault injection lives in faults.cc.

#include "simulation.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "simulation_internal.h"
#include "trace.h"

namespace nomad::sim {
namespace internal {

using raft::MessageType;

namespace {

// Independent random streams per concern, so that e.g. a change in how faults are drawn does
// not reshuffle every network delay of a seed.
uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  raft::Rng rng(seed * 0x100000001b3ULL + stream * 0x9e3779b97f4a7c15ULL);
  rng.next();
  return rng.next();
}

enum Stream : uint64_t {
  kFaults = 1,
  kClients,
  kDisk,
  kNetwork,
  kPhases,
  kNodeSeeds,
  kDiskFull,
  kMembershipChanges,
};

size_t total_nodes(const SimOptions& options) {
  return options.nodes + (options.membership_changes ? options.spares : 0);
}

}  // namespace

std::string node_name(NodeId id) { return "n" + std::to_string(id); }

Simulation::Simulation(const SimOptions& options)
    : options_(options),
      scenario_(make_scenario(options.seed, options.nodes, options.profile)),
      fault_rng_(stream_seed(options.seed, kFaults)),
      client_rng_(stream_seed(options.seed, kClients)),
      disk_rng_(stream_seed(options.seed, kDisk)),
      disk_full_rng_(stream_seed(options.seed, kDiskFull)),
      membership_rng_(stream_seed(options.seed, kMembershipChanges)),
      nodes_([&] {
        std::vector<NodeId> voters;
        for (NodeId id = 1; id <= options.nodes; ++id) voters.push_back(id);
        raft::Rng phases(stream_seed(options.seed, kPhases));
        std::vector<SimNode> nodes;
        const size_t total = total_nodes(options);
        nodes.reserve(total);
        for (NodeId id = 1; id <= total; ++id) {
          raft::Config config;
          config.id = id;
          // Spares start outside the cluster and learn their membership when added.
          config.join = id > options.nodes;
          if (!config.join) config.voters = voters;
          config.bugs = options.bugs;
          config.max_entries_per_append = scenario_.max_entries_per_append;
          config.max_inflight_appends = scenario_.max_inflight_appends;
          config.max_committed_per_ready = scenario_.max_committed_per_ready;
          config.snapshot_chunk_bytes = scenario_.snapshot_chunk_bytes;
          // Each node ticks every 10 ms, at its own offset within the tick.
          nodes.emplace_back(std::move(config), phases.below(kTick));
        }
        return nodes;
      }()),
      network_(total_nodes(options), stream_seed(options.seed, kNetwork)),
      checker_(nodes_),
      clients_(options.seed),
      observed_(total_nodes(options)),
      led_term_(total_nodes(options), 0) {
  network_.set_quality(scenario_.network);
}

void Simulation::trace(const std::string& line) {
  *options_.trace << format_time(now_) << " " << line << "\n";
}

void Simulation::trace_role(const SimNode& n) {
  if (!tracing()) return;
  Observed& o = observed_[n.id() - 1];
  Observed now;
  now.up = n.up();
  if (now.up) {
    now.role = n.core().role();
    now.term = n.core().term();
    now.leader = n.core().leader_id();
  }
  if (now.up && (!o.up || now.role != o.role || now.term != o.term || now.leader != o.leader)) {
    trace(node_name(n.id()) + " is " + raft::role_name(now.role) + " in term " +
          std::to_string(now.term) + ", leader " +
          (now.leader == raft::kNoNode ? std::string("unknown") : node_name(now.leader)));
  }
  o = now;
}

void Simulation::observe(SimNode& n, Index may_change_from) {
  schedule_ready(n);
  checker_.after_event(n, may_change_from);
  trace_role(n);
  watch_new_leader(n);
}

void Simulation::schedule(Time at, EventKind kind, NodeId id, uint64_t incarnation,
                          Message message) {
  Event e;
  e.at = at;
  e.kind = kind;
  e.node = id;
  e.incarnation = incarnation;
  e.message = std::move(message);
  queue_.push(std::move(e));
}

void Simulation::schedule_tick(const SimNode& n) {
  Time at = now_ - now_ % kTick + n.tick_phase();
  if (at <= now_) at += kTick;
  schedule(at, EventKind::kTick, n.id(), n.incarnation());
}

void Simulation::schedule_ready(SimNode& n) {
  // One pending loop wake-up per node: whatever piles up meanwhile goes into the same Ready.
  if (!n.up() || n.ready_scheduled || !n.core().has_ready()) return;
  n.ready_scheduled = true;
  schedule(now_ + uniform(disk_rng_, scenario_.loop_min, scenario_.loop_max), EventKind::kReady,
           n.id(), n.incarnation());
}

void Simulation::start_sync(SimNode& n) {
  if (n.syncing > 0 || n.queued_writes.empty()) return;
  n.syncing = n.queued_writes.size();
  Time took = uniform(disk_rng_, scenario_.disk_min, scenario_.disk_max);
  if (disk_rng_.chance(scenario_.disk_slow_per_mille, 1000)) {
    took = uniform(disk_rng_, scenario_.disk_max,
                   std::max(scenario_.disk_max, scenario_.disk_slow_max));
  }
  schedule(now_ + took, EventKind::kDiskDone, n.id(), n.incarnation());
}

SimResult Simulation::run() {
  if (tracing()) {
    trace("seed " + std::to_string(options_.seed) + ", " + std::to_string(options_.nodes) +
          " nodes, " + fault_profile_name(scenario_.profile) + " faults until " +
          format_time(scenario_.fault_phase) + ", entries/append " +
          std::to_string(scenario_.max_entries_per_append) + ", inflight " +
          std::to_string(scenario_.max_inflight_appends) + ", committed/ready " +
          std::to_string(scenario_.max_committed_per_ready) + ", compact every " +
          std::to_string(scenario_.compact_every) + ", snapshot chunks of " +
          std::to_string(scenario_.snapshot_chunk_bytes) + " bytes");
  }
  for (SimNode& n : nodes_) start(n);
  schedule(uniform(client_rng_, scenario_.client_gap_min, scenario_.client_gap_max),
           EventKind::kClient);
  schedule(uniform(fault_rng_, scenario_.fault_gap_min, scenario_.fault_gap_max),
           EventKind::kFault);
  schedule(scenario_.fault_phase, EventKind::kHeal);
  if (options_.membership_changes) {
    schedule(uniform(membership_rng_, scenario_.membership_gap_min, scenario_.membership_gap_max),
             EventKind::kMembership);
  }

  while (!queue_.empty() && !done_ && !checker_.failed()) {
    Event e = queue_.pop();
    now_ = e.at;
    checker_.set_time(now_);
    switch (e.kind) {
      case EventKind::kTick:
        on_tick(e);
        break;
      case EventKind::kReady:
        on_ready(e);
        break;
      case EventKind::kDeliver:
        on_deliver(e);
        break;
      case EventKind::kClient:
        on_client();
        break;
      case EventKind::kFault:
        on_fault();
        break;
      case EventKind::kRestart:
        on_restart(e);
        break;
      case EventKind::kHeal:
        on_heal();
        break;
      case EventKind::kLivenessCheck:
        on_liveness_check();
        break;
      case EventKind::kStrikeLeader:
        on_strike_leader(e);
        break;
      case EventKind::kDiskSpace:
        on_disk_space(e);
        break;
      case EventKind::kDiskDone:
        on_disk_done(e);
        break;
      case EventKind::kMembership:
        on_membership();
        break;
    }
    ++stats_.events;
    if (stats_.events % options_.full_check_every == 0) checker_.full_check();
  }
  checker_.full_check();

  SimResult result;
  result.seed = options_.seed;
  result.nodes = options_.nodes;
  result.violation = checker_.violation();
  stats_.leader_terms = checker_.leader_terms();
  stats_.committed = checker_.committed_count();
  stats_.clients = clients_.stats();
  stats_.end_time = now_;
  stats_.heal_time = heal_time_;
  result.stats = stats_;
  return result;
}

void Simulation::start(SimNode& n) {
  raft::Rng seeds(stream_seed(options_.seed, kNodeSeeds) ^ (n.id() << 32) ^ n.incarnation());
  n.start(seeds.next());
  if (tracing()) {
    const raft::Core& c = n.core();
    trace(node_name(n.id()) + " starts (incarnation " + std::to_string(n.incarnation()) +
          ") with term " + std::to_string(c.term()) + ", vote " + std::to_string(c.vote()) +
          ", commit " + std::to_string(c.commit_index()) + ", log up to " +
          std::to_string(c.log().last_index()));
  }
  checker_.after_start(n);
  trace_role(n);
  watch_new_leader(n);
  schedule_tick(n);
  schedule_ready(n);
}

void Simulation::on_tick(const Event& e) {
  SimNode& n = node(e.node);
  if (!n.up() || n.incarnation() != e.incarnation) return;  // a restart ticks on its own
  if (tracing()) trace(node_name(n.id()) + " tick");
  n.core().tick();
  observe(n);
  schedule_tick(n);
}

void Simulation::on_ready(const Event& e) {
  SimNode& n = node(e.node);
  if (!n.up() || n.incarnation() != e.incarnation) return;  // lost with the crash
  n.ready_scheduled = false;
  process_ready(n);
}

void Simulation::process_ready(SimNode& n) {
  if (!n.core().has_ready()) return;
  // From ready() to advance() nothing else touches the core: send what may leave at once,
  // restore an installed snapshot, apply, advance; the write goes to the writer's queue.
  raft::Ready ready = n.core().ready();
  if (tracing()) {
    std::string line = node_name(n.id()) + " ready:";
    if (ready.snapshot) {
      line += " install snapshot " + std::to_string(ready.snapshot->index) + "@" +
              std::to_string(ready.snapshot->term);
    }
    if (!ready.entries.empty()) line += " write " + describe_entries(ready.entries);
    if (ready.hard_state) {
      line += " hard state term " + std::to_string(ready.hard_state->term) + " vote " +
              std::to_string(ready.hard_state->vote) + " commit " +
              std::to_string(ready.hard_state->commit);
    }
    if (!ready.committed.empty()) line += " apply " + describe_entries(ready.committed);
    line += " send " + std::to_string(ready.messages.size()) + " now, " +
            std::to_string(ready.messages_after_append.size()) + " after the write";
    trace(line);
  }
  for (Message& m : ready.messages) {
    checker_.after_send(n, m);
    send(std::move(m));
  }
  ready.messages.clear();
  if (ready.snapshot) {
    // The state machine restarts from the snapshot now; its write is queued like any other.
    if (!n.install(*ready.snapshot)) {
      checker_.report(ViolationKind::kStateMachineSafety,
                      node_name(n.id()) + " cannot restore its state machine from a snapshot");
      return;
    }
    clients_.snapshot_installed(n.id(), ready.snapshot->index);
    ++stats_.snapshots_installed;
  }
  for (const raft::Entry& entry : ready.committed) {
    checker_.before_apply(n, entry);
    if (checker_.failed()) return;
    n.apply(entry);
    clients_.applied(n.id(), entry, now_);
    if (entry.type == raft::EntryType::kConfChange && n.core().role() == Role::kLeader) {
      raft::ConfChange change;
      if (raft::decode_conf_entry(entry.data, &change, nullptr) &&
          change.kind == raft::ConfChange::Kind::kPromote) {
        ++stats_.promotions;
      }
    }
  }
  ready.committed.clear();
  n.core().advance();
  if (ready.has_writes() || !n.queued_writes.empty()) {
    n.queued_writes.push_back(std::move(ready));
    start_sync(n);
  } else {
    for (Message& m : ready.messages_after_append) {  // nothing to wait for
      checker_.after_send(n, m);
      send(std::move(m));
    }
  }
  observe(n);  // another Ready may be due, e.g. more committed entries than one hands out
  maybe_compact(n);
}

void Simulation::on_disk_done(const Event& e) {
  SimNode& n = node(e.node);
  if (!n.up() || n.incarnation() != e.incarnation) return;  // lost with the crash
  if (fails_on_full_disk(n)) return;
  const size_t count = n.syncing;
  std::optional<std::pair<Index, Term>> last;
  for (size_t k = 0; k < count; ++k) {
    const raft::Ready& w = n.queued_writes[k];
    checker_.before_persist(n, w);
    if (checker_.failed()) return;
    n.persist(w);
    if (!w.entries.empty()) last = {w.entries.back().index, w.entries.back().term};
  }
  ++stats_.syncs;
  stats_.writes += count;
  if (tracing()) {
    trace(node_name(n.id()) + " synced " + std::to_string(count) + " write(s)" +
          (last ? ", log durable up to " + std::to_string(last->first) + "@" +
                      std::to_string(last->second)
                : std::string()));
  }
  for (size_t k = 0; k < count; ++k) {
    for (Message& m : n.queued_writes.front().messages_after_append) {
      checker_.after_send(n, m);
      send(std::move(m));
    }
    n.queued_writes.pop_front();
  }
  n.syncing = 0;
  if (last) n.core().persisted(last->first, last->second);
  observe(n);
  start_sync(n);
}

bool Simulation::fails_on_full_disk(SimNode& n) {
  // A group with an installed snapshot is left alone: the server keeps such a snapshot in
  // memory until it can write it, which this model of the application does not.
  for (const raft::Ready& w : n.queued_writes) {
    if (w.snapshot) return false;
  }
  if (options_.disk_full_per_mille == 0) return false;
  if (n.disk_full_until <= now_) {
    if (healed_ || !disk_full_rng_.chance(options_.disk_full_per_mille, 1000)) return false;
    n.disk_full_until = now_ + uniform(disk_full_rng_, 5 * kMillisecond, 300 * kMillisecond);
    if (tracing()) {
      trace(node_name(n.id()) + " DISK FULL until " + format_time(n.disk_full_until));
    }
  }
  ++stats_.disk_full;
  if (tracing()) {
    trace(node_name(n.id()) + " cannot write: " + std::to_string(n.queued_writes.size()) +
          " queued write(s) discarded, their answers never sent");
  }
  n.queued_writes.clear();
  n.syncing = 0;
  // The first failure of this core (a restarted node's core starts afresh) waits for space.
  if (!n.core().storage_failed()) {
    schedule(n.disk_full_until, EventKind::kDiskSpace, n.id(), n.incarnation());
  }
  n.core().persist_failed();
  observe(n);
  return true;
}

void Simulation::on_disk_space(const Event& e) {
  SimNode& n = node(e.node);
  if (!n.up() || n.incarnation() != e.incarnation || !n.core().storage_failed()) return;
  if (n.disk_full_until > now_) return;  // filled again since: a later event is due
  if (tracing()) trace(node_name(n.id()) + " has disk space again: retries its write");
  n.core().storage_recovered();
  observe(n);
}

void Simulation::maybe_compact(SimNode& n) {
  if (scenario_.compact_every == 0 || checker_.failed()) return;
  if (n.applied_index() < n.core().snapshot().index + scenario_.compact_every) return;
  if (!n.compact(scenario_.snapshot_padding)) return;
  ++stats_.compactions;
  if (tracing()) {
    trace(node_name(n.id()) + " compacts its log into a snapshot at " +
          std::to_string(n.core().snapshot().index) + "@" +
          std::to_string(n.core().snapshot().term));
  }
  checker_.after_compact(n);
}

void Simulation::send(Message message) {
  ++stats_.messages_sent;
  std::vector<Time> delays;
  if (message.to >= 1 && message.to <= nodes_.size()) delays = network_.route(message);
  if (tracing()) {
    std::string fate;
    if (delays.empty()) fate = network_.connected(message.from, message.to) ? "lost" : "cut off";
    for (Time d : delays) fate += (fate.empty() ? "arrives in " : " and in ") + format_time(d);
    trace(node_name(message.from) + " sends " + describe_message(message) + ": " + fate);
  }
  if (delays.empty()) ++stats_.messages_dropped;
  for (size_t k = 0; k < delays.size(); ++k) {
    NodeId to = message.to;
    schedule(now_ + delays[k], EventKind::kDeliver, to, 0,
             k + 1 < delays.size() ? message : std::move(message));
  }
}

void Simulation::on_deliver(Event& e) {
  const Message& m = e.message;
  SimNode& n = node(m.to);
  const char* lost = !n.up()                             ? "it is down"
                     : !network_.connected(m.from, m.to) ? "partitioned"
                                                         : nullptr;
  if (lost) {
    ++stats_.messages_dropped;
    if (tracing()) trace(node_name(m.to) + " misses " + describe_message(m) + ": " + lost);
    return;
  }
  ++stats_.messages_delivered;
  std::string why;
  bool accepted = n.core().step(m, tracing() ? &why : nullptr);
  if (tracing()) {
    trace(node_name(m.to) + " receives " + describe_message(m) +
          (accepted ? "" : " (dropped: " + why + ")"));
  }
  // Only an AppendEntries can change entries below the tail: from its prev index + 1 on.
  observe(n, m.type == MessageType::kAppend ? m.index + 1 : 0);
}

std::vector<NodeId> Simulation::up_leaders() const {
  std::vector<NodeId> ids;
  for (const SimNode& n : nodes_) {
    if (n.up() && n.core().role() == Role::kLeader) ids.push_back(n.id());
  }
  return ids;
}

std::vector<NodeId> Simulation::nodes_where(bool up) const {
  std::vector<NodeId> ids;
  for (const SimNode& n : nodes_) {
    if (n.up() == up) ids.push_back(n.id());
  }
  return ids;
}

void Simulation::on_client() {
  // After healing, clients stop once a write proposed since then has been acknowledged, so
  // the liveness check has a fixed set of acknowledged writes to find on every node.
  if (healed_ && clients_.latest_acked_proposal() >= heal_time_ && clients_.stats().acked > 0) {
    clients_active_ = false;
  }
  if (!clients_active_) return;
  schedule(now_ + uniform(client_rng_, scenario_.client_gap_min, scenario_.client_gap_max),
           EventKind::kClient);

  // Clients send to whoever believes it leads, stale leaders included.
  std::vector<NodeId> leaders = up_leaders();
  if (leaders.empty()) {
    clients_.refused();
    if (tracing()) trace("client finds no leader");
    return;
  }
  SimNode& n = node(leaders[client_rng_.below(leaders.size())]);
  clients_.forget_overwritten(n.id(), n.core().log());
  if (clients_.pending_on(n.id()) >= scenario_.max_pending_per_leader) {
    clients_.waited();
    if (tracing())
      trace("client waits: " + node_name(n.id()) + " has not answered earlier proposals");
    return;
  }
  size_t batch = client_rng_.chance(scenario_.batch_per_mille, 1000) ? 2 + client_rng_.below(2) : 1;
  std::vector<std::string> payloads;
  for (size_t k = 0; k < batch; ++k) payloads.push_back(clients_.next_payload());
  raft::ProposeResult r =
      batch == 1 ? n.core().propose(payloads.front()) : n.core().propose(payloads);
  if (tracing()) {
    std::string what = "client proposes";
    for (const std::string& p : payloads) what += " \"" + p + "\"";
    what += " to " + node_name(n.id()) + ": ";
    what += r.accepted ? "index " + std::to_string(r.first_index) + ".." +
                             std::to_string(r.last_index) + " term " + std::to_string(r.term)
                       : "refused";
    trace(what);
  }
  if (r.accepted) {
    clients_.proposed(n.id(), r, payloads, now_);
  } else {
    clients_.refused();
  }
  observe(n);
}

bool Simulation::liveness_holds() const {
  if (clients_active_) return false;  // no write proposed after healing acknowledged yet
  std::vector<NodeId> leaders = up_leaders();
  if (leaders.size() != 1) return false;
  const raft::Core& leader = nodes_[leaders.front() - 1].core();
  for (const SimNode& n : nodes_) {
    // Only the leader's configuration must follow it: a removed node or a spare never added
    // hears from no leader (and must not disturb the one there is).
    if (!leader.membership().is_member(n.id())) continue;
    if (!n.up() || n.core().term() != leader.term() || n.core().leader_id() != leader.id()) {
      return false;
    }
    if (n.applied_index() < clients_.max_acked_index()) return false;
  }
  return true;
}

std::string Simulation::cluster_state() const {
  std::string out;
  for (const SimNode& n : nodes_) {
    out += "\n  " + node_name(n.id()) + ": ";
    if (!n.up()) {
      out += "down";
      continue;
    }
    const raft::Core& c = n.core();
    out += std::string(c.membership().is_voter(n.id())    ? "voter "
                       : c.membership().is_member(n.id()) ? "learner "
                                                          : "outside ");
    out += std::string(raft::role_name(c.role())) + " term " + std::to_string(c.term()) +
           " leader " + std::to_string(c.leader_id()) + " commit " +
           std::to_string(c.commit_index()) + " applied " + std::to_string(n.applied_index()) +
           " last " + std::to_string(c.log().last_index()) + "@" +
           std::to_string(c.log().last_term());
  }
  return out;
}

void Simulation::on_liveness_check() {
  if (liveness_holds()) {
    stats_.recovery_time = now_ - heal_time_;
    if (tracing())
      trace("liveness: leader elected and every acknowledged write applied everywhere");
    done_ = true;
    return;
  }
  if (now_ - heal_time_ >= scenario_.liveness_deadline) {
    std::string why = format_time(scenario_.liveness_deadline) + " after healing, ";
    why += clients_active_ ? "no write proposed since has been acknowledged"
                           : "the cluster has no single leader or lacks acknowledged writes "
                             "up to index " +
                                 std::to_string(clients_.max_acked_index());
    checker_.report(ViolationKind::kLiveness, why + ":" + cluster_state());
    return;
  }
  schedule(now_ + kLivenessCheckEvery, EventKind::kLivenessCheck);
}

}  // namespace internal

SimResult run_simulation(const SimOptions& options) { return internal::Simulation(options).run(); }

size_t default_node_count(uint64_t seed) { return seed % 2 == 1 ? 3 : 5; }

const std::vector<std::string>& planted_bug_names() {
  static const std::vector<std::string> names = {
      "grant_second_vote",          "commit_previous_term_by_count", "truncate_on_stale_append",
      "count_own_unsynced_entries", "send_vote_before_durable",      "concurrent_conf_changes",
      "count_learners_in_quorum"};
  return names;
}

std::optional<raft::PlantedBugs> planted_bug(std::string_view name) {
  raft::PlantedBugs bugs;
  if (name == "grant_second_vote") {
    bugs.grant_second_vote = true;
  } else if (name == "commit_previous_term_by_count") {
    bugs.commit_previous_term_by_count = true;
  } else if (name == "truncate_on_stale_append") {
    bugs.truncate_on_stale_append = true;
  } else if (name == "count_own_unsynced_entries") {
    bugs.count_own_unsynced_entries = true;
  } else if (name == "send_vote_before_durable") {
    bugs.send_vote_before_durable = true;
  } else if (name == "concurrent_conf_changes") {
    bugs.allow_concurrent_conf_changes = true;
  } else if (name == "count_learners_in_quorum") {
    bugs.count_learners_in_quorum = true;
  } else {
    return std::nullopt;
  }
  return bugs;
}

}  // namespace nomad::sim
