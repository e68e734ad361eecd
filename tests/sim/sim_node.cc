#include "sim_node.h"

#include <algorithm>
#include <utility>

namespace nomad::sim {

SimNode::SimNode(raft::Config config, Time tick_phase)
    : config_(std::move(config)), tick_phase_(tick_phase) {}

void SimNode::start(uint64_t seed) {
  raft::Config config = config_;
  config.seed = seed;
  raft::RestoredState restored;
  restored.hard_state = disk_.hard_state;
  restored.entries = disk_.entries;
  restored.snapshot_index = disk_.snapshot_index;
  restored.snapshot_term = disk_.snapshot_term;
  restored.snapshot_data = disk_.snapshot_data;
  restored.snapshot_membership = disk_.snapshot_membership;
  state_ = StateMachine{};
  if (disk_.snapshot_data) {
    // Only validated snapshots reach the disk (the checker reads them before persisting).
    state_ = StateMachine::restore(*disk_.snapshot_data).value_or(StateMachine{});
  }
  restored.applied = state_.applied;
  core_ = std::make_unique<raft::Core>(std::move(config), std::move(restored));
  ++incarnation_;
  ready_scheduled = false;
  queued_writes.clear();
  syncing = 0;
}

void SimNode::crash() {
  core_.reset();
  state_ = StateMachine{};
  ready_scheduled = false;
  queued_writes.clear();  // not durable: lost
  syncing = 0;
}

void SimNode::persist(const raft::Ready& ready) {
  if (ready.snapshot) {
    // The log now starts after the snapshot; nothing stored before can be trusted (§7).
    disk_.snapshot_index = ready.snapshot->index;
    disk_.snapshot_term = ready.snapshot->term;
    disk_.snapshot_data = ready.snapshot->data;
    disk_.snapshot_membership = ready.snapshot->membership;
    disk_.entries.clear();
  }
  if (!ready.entries.empty()) {
    // The Ready replaces any stored suffix from its first entry on (a conflict the core cut).
    raft::Index first = ready.entries.front().index;
    size_t keep = first > disk_.snapshot_index ? first - disk_.snapshot_index - 1 : 0;
    if (keep < disk_.entries.size()) disk_.entries.resize(keep);
    disk_.entries.insert(disk_.entries.end(), ready.entries.begin(), ready.entries.end());
  }
  if (ready.hard_state) disk_.hard_state = *ready.hard_state;
}

bool SimNode::install(const raft::Snapshot& snapshot) {
  auto restored = snapshot.data ? StateMachine::restore(*snapshot.data) : std::nullopt;
  if (!restored) return false;
  state_ = *restored;
  return true;
}

bool SimNode::compact(size_t padding) {
  raft::Index index = state_.applied;
  auto data = std::make_shared<const std::string>(state_.snapshot(padding));
  if (!core_->compact(index, data)) return false;
  // The snapshot is durable before the log prefix it replaces is dropped.
  size_t drop = std::min<size_t>(index - disk_.snapshot_index, disk_.entries.size());
  disk_.snapshot_index = index;
  disk_.snapshot_term = core_->snapshot().term;
  disk_.snapshot_data = std::move(data);
  disk_.snapshot_membership = core_->snapshot().membership;
  disk_.entries.erase(disk_.entries.begin(), disk_.entries.begin() + static_cast<long>(drop));
  return true;
}

}  // namespace nomad::sim
