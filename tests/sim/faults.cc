// Fault injection for the simulation: the scenario's random faults, strikes on freshly
// elected leaders, crashes and restarts, and the healing that ends the fault phase.

#include <algorithm>
#include <string>
#include <utility>

#include "simulation_internal.h"

namespace nomad::sim::internal {

void Simulation::watch_new_leader(const SimNode& n) {
  bool leads = n.up() && n.core().role() == Role::kLeader;
  Term& led = led_term_[n.id() - 1];
  if (!leads) {
    led = 0;
    return;
  }
  if (led == n.core().term()) return;
  led = n.core().term();
  // A leader struck down before its no-op reaches a majority leaves a divergent tail of its
  // term on a minority: the raw material of the paper's Figure 8.
  if (healed_ || !fault_rng_.chance(scenario_.strike_new_leader_per_mille, 1000)) return;
  Event e;
  // Log-uniform delay: some strikes land before the no-op leaves, others in the middle of
  // catching a follower up.
  int doublings = 0;
  while ((scenario_.strike_delay_min << (doublings + 1)) <= scenario_.strike_delay_max) {
    ++doublings;
  }
  Time delay = scenario_.strike_delay_min << fault_rng_.below(doublings + 1);
  e.at = now_ + uniform(fault_rng_, delay / 2, delay);
  e.kind = EventKind::kStrikeLeader;
  e.node = n.id();
  e.incarnation = n.incarnation();
  e.message.term = led;
  queue_.push(std::move(e));
}

void Simulation::on_strike_leader(const Event& e) {
  SimNode& n = node(e.node);
  if (healed_ || !n.up() || n.incarnation() != e.incarnation) return;
  if (n.core().role() != Role::kLeader || n.core().term() != e.message.term) return;
  if (fault_rng_.chance(scenario_.strike_crash_per_mille, 1000)) {
    if (tracing()) trace("fault strike-new-leader: crash " + node_name(n.id()));
    crash(n);
  } else {
    apply_fault(FaultKind::kIsolateLeader, n.id());
  }
}

void Simulation::crash(SimNode& n) {
  checker_.before_crash(n);
  n.crash();
  clients_.crashed(n.id());
  ++stats_.crashes;
  std::string restart = "no restart scheduled";
  if (!fault_rng_.chance(scenario_.stay_down_per_mille, 1000)) {
    Time at = now_ + uniform(fault_rng_, scenario_.down_min, scenario_.down_max);
    if (at < scenario_.fault_phase) {
      schedule(at, EventKind::kRestart, n.id());
      restart = "restarts at " + format_time(at);
    }
  }
  if (tracing()) trace(node_name(n.id()) + " CRASHES, " + restart);
  trace_role(n);
  watch_new_leader(n);
}

void Simulation::on_fault() {
  if (healed_) return;
  FaultKind kind = pick_fault(fault_rng_, scenario_);
  apply_fault(kind);
  Time next = now_ + uniform(fault_rng_, scenario_.fault_gap_min, scenario_.fault_gap_max);
  if (next < scenario_.fault_phase) schedule(next, EventKind::kFault);
}

void Simulation::apply_fault(FaultKind kind, NodeId target) {
  const size_t count = nodes_.size();
  std::vector<NodeId> all;
  for (NodeId id = 1; id <= count; ++id) all.push_back(id);
  std::vector<NodeId> leaders = up_leaders();
  std::vector<NodeId> up = nodes_where(true);
  std::vector<NodeId> down = nodes_where(false);
  std::string what;

  auto partition = [&](std::vector<std::vector<NodeId>> groups) {
    network_.partition(groups);
    ++stats_.partitions;
    what = "partition " + network_.describe();
  };

  switch (kind) {
    case FaultKind::kIsolateLeader: {
      if (count < 2) break;
      NodeId lone = target ? target : leaders.empty() ? pick(all) : pick(leaders);
      std::vector<NodeId> rest;
      for (NodeId id : all) {
        if (id != lone) rest.push_back(id);
      }
      partition({{lone}, rest});
      break;
    }
    case FaultKind::kSplitMinority: {
      if (count < 2) break;
      // Shuffle, then the first 1..(n-1)/2 nodes (at least one) form the minority.
      std::vector<NodeId> order = all;
      for (size_t i = order.size() - 1; i > 0; --i) {
        std::swap(order[i], order[fault_rng_.below(i + 1)]);
      }
      size_t minority = 1 + fault_rng_.below(std::max<size_t>((count - 1) / 2, 1));
      partition({std::vector<NodeId>(order.begin(), order.begin() + minority),
                 std::vector<NodeId>(order.begin() + minority, order.end())});
      break;
    }
    case FaultKind::kRandomPartition: {
      if (count < 2) break;
      size_t groups = 2 + fault_rng_.below(2);
      std::vector<std::vector<NodeId>> g(groups);
      for (NodeId id : all) g[fault_rng_.below(groups)].push_back(id);
      partition(std::move(g));
      break;
    }
    case FaultKind::kHealPartition:
      if (!network_.partitioned()) break;
      network_.heal();
      what = "partition healed";
      break;
    case FaultKind::kCrashLeader:
    case FaultKind::kCrashRandom: {
      if (up.empty()) break;
      NodeId id = kind == FaultKind::kCrashLeader && !leaders.empty() ? pick(leaders) : pick(up);
      crash(node(id));
      return;
    }
    case FaultKind::kRestartOne:
      if (down.empty()) break;
      start(node(pick(down)));
      return;
    case FaultKind::kNetworkChange: {
      NetworkQuality q = random_network_quality(fault_rng_);
      network_.set_quality(q);
      what = "network now drops " + std::to_string(q.drop_per_mille) + "/1000, duplicates " +
             std::to_string(q.duplicate_per_mille) + "/1000, delays " + format_time(q.min_delay) +
             "-" + format_time(q.max_delay) + ", " + std::to_string(q.slow_per_mille) +
             "/1000 up to " + format_time(q.max_slow_delay);
      break;
    }
    case FaultKind::kTransferLeader: {
      if (leaders.empty() || count < 2) break;
      SimNode& leader = node(pick(leaders));
      NodeId target = pick(all);
      if (target == leader.id()) break;
      bool ok = leader.core().transfer_leadership(target);
      what = node_name(leader.id()) + " transfers leadership to " + node_name(target) +
             (ok ? "" : " (refused)");
      observe(leader);
      break;
    }
    case FaultKind::kAddServer:
    case FaultKind::kRemoveServer:
    case FaultKind::kRemoveLeader:
      break;  // membership changes run on their own schedule (membership_changes.cc)
    case FaultKind::kNone:
    case FaultKind::kCount:
      break;
  }
  if (tracing() && !what.empty())
    trace("fault " + std::string(fault_kind_name(kind)) + ": " + what);
}

void Simulation::on_restart(const Event& e) {
  SimNode& n = node(e.node);
  if (n.up() || healed_) return;  // already back (restart-one, or the heal)
  start(n);
}

void Simulation::on_heal() {
  healed_ = true;
  heal_time_ = now_;
  network_.heal();
  NetworkQuality q = network_.quality();
  q.drop_per_mille = 0;
  network_.set_quality(q);
  if (tracing()) trace("faults end: partitions healed, no more drops, crashed nodes restart");
  for (SimNode& n : nodes_) {
    if (!n.up()) start(n);
  }
  schedule(now_ + kLivenessCheckEvery, EventKind::kLivenessCheck);
}

}  // namespace nomad::sim::internal
