// Membership changes in the simulation: during the fault phase the leader is asked, on a
// schedule of its own, to add a server from outside the cluster (it joins as a learner and the
// leader promotes it), to remove a member, or to remove itself; now and then a second change
// follows at once and must be refused while the first is in flight.

#include <string>
#include <vector>

#include "simulation_internal.h"

namespace nomad::sim::internal {

void Simulation::on_membership() {
  if (healed_) return;
  Time next =
      now_ + uniform(membership_rng_, scenario_.membership_gap_min, scenario_.membership_gap_max);
  if (next < scenario_.fault_phase) schedule(next, EventKind::kMembership);
  std::vector<NodeId> leaders = up_leaders();
  if (leaders.empty()) return;
  // The leader of the latest term: a deposed one cut off by a partition refuses anyway.
  NodeId latest = leaders.front();
  for (NodeId id : leaders) {
    if (node(id).core().term() > node(latest).core().term()) latest = id;
  }
  SimNode& leader = node(latest);
  uint64_t roll = membership_rng_.below(100);
  FaultKind kind = roll < 50   ? FaultKind::kAddServer
                   : roll < 85 ? FaultKind::kRemoveServer
                               : FaultKind::kRemoveLeader;
  std::string what = change_membership(leader, kind);
  if (membership_rng_.chance(scenario_.second_change_per_mille, 1000) &&
      leader.core().role() == Role::kLeader) {
    FaultKind second =
        membership_rng_.chance(1, 2) ? FaultKind::kAddServer : FaultKind::kRemoveServer;
    what += "; then " + change_membership(leader, second);
  }
  if (tracing()) trace("membership " + std::string(fault_kind_name(kind)) + ": " + what);
  observe(leader);
}

std::string Simulation::change_membership(SimNode& leader, FaultKind kind) {
  raft::Core& core = leader.core();
  const raft::Membership& members = core.membership();
  auto pick_from = [this](const std::vector<NodeId>& ids) {
    return ids[membership_rng_.below(ids.size())];
  };
  raft::ConfChange change;
  if (kind == FaultKind::kAddServer) {
    std::vector<NodeId> outside;
    for (const SimNode& n : nodes_) {
      if (!members.is_member(n.id())) outside.push_back(n.id());
    }
    if (outside.empty()) return "no node outside the cluster to add";
    NodeId id = pick_from(outside);
    change = {.kind = raft::ConfChange::Kind::kAddLearner,
              .id = id,
              .address = "sim:" + std::to_string(id)};
  } else {
    std::vector<NodeId> candidates;
    for (const raft::Member& m : members.members) {
      bool is_leader = m.id == leader.id();
      if (is_leader != (kind == FaultKind::kRemoveLeader)) continue;
      if (m.voter && members.voter_count() <= scenario_.min_voters) continue;
      candidates.push_back(m.id);
    }
    if (candidates.empty()) return "no member to remove";
    change = {.kind = raft::ConfChange::Kind::kRemove, .id = pick_from(candidates)};
  }
  std::string why;
  raft::ProposeResult r = core.propose_conf_change(change, &why);
  (r.accepted ? stats_.conf_changes : stats_.conf_changes_refused)++;
  return node_name(leader.id()) + " proposes " + raft::conf_change_kind_name(change.kind) + " " +
         node_name(change.id) + ": " +
         (r.accepted ? "index " + std::to_string(r.first_index) : "refused (" + why + ")");
}

}  // namespace nomad::sim::internal
