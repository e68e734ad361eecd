#include "sim_network.h"

#include <algorithm>
#include <map>

namespace nomad::sim {

SimNetwork::SimNetwork(size_t nodes, uint64_t seed) : rng_(seed), group_(nodes, 0) {}

void SimNetwork::partition(const std::vector<std::vector<raft::NodeId>>& groups) {
  std::fill(group_.begin(), group_.end(), -1);
  for (size_t g = 0; g < groups.size(); ++g) {
    for (raft::NodeId id : groups[g]) group_[id - 1] = static_cast<int>(g);
  }
  partitioned_ = true;
}

void SimNetwork::heal() {
  std::fill(group_.begin(), group_.end(), 0);
  partitioned_ = false;
}

bool SimNetwork::connected(raft::NodeId a, raft::NodeId b) const {
  if (a == b) return true;
  int ga = group_[a - 1];
  return ga >= 0 && ga == group_[b - 1];
}

std::vector<Time> SimNetwork::route(const raft::Message& message) {
  std::vector<Time> delays;
  if (!connected(message.from, message.to)) return delays;
  int copies = rng_.chance(quality_.duplicate_per_mille, 1000) ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    if (rng_.chance(quality_.drop_per_mille, 1000)) continue;
    Time delay = quality_.min_delay + rng_.below(quality_.max_delay - quality_.min_delay + 1);
    if (rng_.chance(quality_.slow_per_mille, 1000))
      delay += rng_.below(quality_.max_slow_delay + 1);
    delays.push_back(delay);
  }
  return delays;
}

std::string SimNetwork::describe() const {
  if (!partitioned_) return "healed";
  // Groups in order of their first member, then the isolated nodes, each on its own.
  std::map<int, std::string> groups;
  std::string out;
  for (size_t i = 0; i < group_.size(); ++i) {
    std::string id = std::to_string(i + 1);
    if (group_[i] < 0) {
      groups[static_cast<int>(group_.size() + i)] = id;
      continue;
    }
    std::string& g = groups[group_[i]];
    g += g.empty() ? id : "," + id;
  }
  for (const auto& [g, members] : groups) out += (out.empty() ? "{" : " {") + members + "}";
  return out;
}

}  // namespace nomad::sim
