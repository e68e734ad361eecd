#pragma once

// The simulated network between nodes: decides for every message whether it is lost,
// duplicated or delayed (long delays reorder it past later messages), and which nodes can
// reach each other. It holds no messages itself; the simulation schedules the deliveries.

#include <cstdint>
#include <string>
#include <vector>

#include "raft/rng.h"
#include "raft/types.h"
#include "sim_time.h"

namespace nomad::sim {

struct NetworkQuality {
  uint32_t drop_per_mille = 0;       // each copy is lost with this chance
  uint32_t duplicate_per_mille = 0;  // a message is delivered twice with this chance
  Time min_delay = 200 * kMicrosecond;
  Time max_delay = 3 * kMillisecond;
  uint32_t slow_per_mille = 20;  // a copy is held up to max_slow_delay: reorders messages
  Time max_slow_delay = 40 * kMillisecond;
};

class SimNetwork {
 public:
  SimNetwork(size_t nodes, uint64_t seed);

  const NetworkQuality& quality() const { return quality_; }
  void set_quality(const NetworkQuality& quality) { quality_ = quality; }

  // Nodes in different groups cannot exchange messages; a node listed in no group is cut off
  // from everyone. Messages already in flight across a new cut are lost on arrival.
  void partition(const std::vector<std::vector<raft::NodeId>>& groups);
  void heal();
  bool partitioned() const { return partitioned_; }
  bool connected(raft::NodeId a, raft::NodeId b) const;

  // The delays after which the copies of a message sent now arrive; empty when it is lost.
  std::vector<Time> route(const raft::Message& message);

  // "{1,2} {3}" or "healed".
  std::string describe() const;

 private:
  raft::Rng rng_;
  NetworkQuality quality_;
  std::vector<int> group_;  // group_[id - 1]; equal groups can talk, -1 talks to no one
  bool partitioned_ = false;
};

}  // namespace nomad::sim
