#pragma once

// One seed of the deterministic cluster simulation: N nodes running raft::Core over a lossy,
// reordering, partitionable network, with crashes that lose whatever was not persisted,
// log compaction and InstallSnapshot, clients proposing throughout, and the invariants
// checked after every event. After the fault
// phase everything heals and the cluster must elect a leader and deliver every acknowledged
// write to every node (liveness). Everything follows from the seed.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "clients.h"
#include "raft/core.h"
#include "scenario.h"
#include "sim_time.h"
#include "violation.h"

namespace nomad::sim {

struct SimOptions {
  uint64_t seed = 1;
  size_t nodes = 3;
  raft::PlantedBugs bugs;               // switched on in every node
  std::optional<FaultProfile> profile;  // unset: each seed draws its own
  std::ostream* trace = nullptr;        // every event, one line each, when set
  uint64_t full_check_every = 1024;     // events between full rescans of every log
  // During the fault phase, the chance per group of writes that the node's disk is full for
  // the next 5-300 ms (Core::persist_failed). 0: never. Drawn from a stream of its own, so a
  // seed runs as without it until its first full disk.
  uint32_t disk_full_per_mille = 0;
  // Membership changes during the fault phase: `spares` more nodes (ids nodes+1 ...) start
  // outside the cluster (Config::join) and may be added; members, the leader included, may be
  // removed. Off: the cluster keeps its `nodes` voters and has no spares.
  bool membership_changes = true;
  size_t spares = 2;
};

struct SimStats {
  uint64_t events = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t messages_dropped = 0;  // lost, cut off by a partition, or the target was down
  uint64_t crashes = 0;
  uint64_t partitions = 0;
  uint64_t compactions = 0;
  uint64_t snapshots_installed = 0;
  uint64_t disk_full = 0;             // write groups that failed for a full disk
  uint64_t conf_changes = 0;          // membership changes the leader accepted
  uint64_t conf_changes_refused = 0;  // refused (one in flight already, ...)
  uint64_t promotions = 0;            // learners a leader promoted and applied
  uint64_t writes = 0;                // Readys whose writes were made durable
  uint64_t syncs = 0;                 // groups of writes made durable with one sync
  size_t leader_terms = 0;            // terms that had a leader
  raft::Index committed = 0;
  ClientStats clients;
  Time end_time = 0;
  Time heal_time = 0;
  Time recovery_time = 0;  // from healing to the liveness condition holding
};

struct SimResult {
  uint64_t seed = 0;
  size_t nodes = 0;
  std::optional<Violation> violation;
  SimStats stats;

  bool ok() const { return !violation.has_value(); }
};

SimResult run_simulation(const SimOptions& options);

// The default cluster size of a seed: 3 nodes for odd seeds, 5 for even ones.
size_t default_node_count(uint64_t seed);

// The names accepted by --bug, in the order of raft::PlantedBugs.
const std::vector<std::string>& planted_bug_names();
// PlantedBugs with just the named bug on; nullopt for an unknown name.
std::optional<raft::PlantedBugs> planted_bug(std::string_view name);

}  // namespace nomad::sim
