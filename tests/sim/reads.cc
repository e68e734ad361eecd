#include "reads.h"

namespace nomad::sim {

uint64_t ReadTracker::start(raft::NodeId node, raft::Index required, Time now) {
  uint64_t id = next_id_++;
  reads_[id] = Read{node, required, now, std::nullopt};
  ++stats_.started;
  return id;
}

void ReadTracker::answered(raft::NodeId node, const raft::ReadState& state) {
  auto it = reads_.find(state.request_id);
  if (it == reads_.end() || it->second.node != node) return;
  if (!state.ok) {
    ++stats_.failed;
    reads_.erase(it);
    return;
  }
  it->second.index = state.index;
}

std::optional<std::string> ReadTracker::serve(raft::NodeId node, raft::Index applied, Time now) {
  for (auto it = reads_.begin(); it != reads_.end();) {
    const Read& r = it->second;
    if (r.node != node || !r.index || *r.index > applied) {
      ++it;
      continue;
    }
    if (applied < r.required) {
      return "read " + std::to_string(it->first) + " on n" + std::to_string(node) + " started at " +
             format_time(r.started_at) + " got read index " + std::to_string(*r.index) +
             " and was served at " + format_time(now) + " from applied index " +
             std::to_string(applied) + ", but a write at index " + std::to_string(r.required) +
             " had been acknowledged before it started";
    }
    ++stats_.served;
    it = reads_.erase(it);
  }
  return std::nullopt;
}

void ReadTracker::crashed(raft::NodeId node) {
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.node == node) {
      ++stats_.lost;
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace nomad::sim
