// Drain and eligibility of nodes, as the job store applies them (README "Draining a node").
// The leader enforces a drain (node/coordinator.cc): it places nothing on an
// ineligible node, ends the attempts still running there at the deadline with the reason
// "drained", and proposes NodeDrained once the node holds no attempt.

#include "jobs/node_scheduling.h"

#include "jobs/job_store.h"

namespace nomad::jobs {

const char* scheduling_state(const nomad_lite::NodeScheduling& node) {
  if (node.draining()) return "draining";
  if (!node.ineligible()) return "eligible";
  return node.drained_at_ms() != 0 ? "drained" : "ineligible";
}

bool JobStore::eligible(uint64_t node) const {
  auto it = node_scheduling_.find(node);
  return it == node_scheduling_.end() || !it->second.ineligible();
}

nomad_lite::NodeScheduling JobStore::scheduling_of(uint64_t node) const {
  auto it = node_scheduling_.find(node);
  if (it != node_scheduling_.end()) return it->second;
  nomad_lite::NodeScheduling out;
  out.set_node_id(node);
  return out;
}

ApplyResult JobStore::set_node_scheduling(const nomad_lite::SetNodeScheduling& command,
                                          raft::Index index) {
  const uint64_t node = command.node_id();
  if (node == 0) return {Status::error("node id 0 names no node"), {}};
  ++scheduling_version_;
  if (command.eligible()) {
    // Eligible again: any drain ends, and the node is no longer listed.
    node_scheduling_.erase(node);
    return {};
  }
  nomad_lite::NodeScheduling& n = node_scheduling_[node];
  n.set_node_id(node);
  n.set_ineligible(true);
  if (command.drain()) {
    // A new drain replaces one in progress: its deadline and its fencing index.
    n.set_draining(true);
    n.set_drain_deadline_ms(command.drain_deadline_ms());
    n.set_drain_started_ms(command.at_ms());
    n.set_drained_at_ms(0);
    n.set_drain_index(index);
  }
  return {};
}

ApplyResult JobStore::node_drained(const nomad_lite::NodeDrained& command) {
  auto it = node_scheduling_.find(command.node_id());
  // Only the drain it was proposed for, and only if the node is still empty: a drain cancelled
  // or begun again meanwhile is not ended by a verdict about the earlier one.
  if (it == node_scheduling_.end() || !it->second.draining() ||
      it->second.drain_index() != command.drain_index() || running_on(command.node_id()) > 0) {
    return {};
  }
  ++scheduling_version_;
  it->second.set_draining(false);
  it->second.set_drain_deadline_ms(0);
  it->second.set_drained_at_ms(command.at_ms());
  return {};
}

}  // namespace nomad::jobs
