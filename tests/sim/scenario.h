#pragma once

// The fault mix of one seed: how long faults are injected, how often, which kinds, how bad
// the network and the disks are, and a few core limits turned down so flow control and
// batching paths run too. Drawn from the seed so different seeds stress different things.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "raft/core.h"
#include "raft/rng.h"
#include "sim_network.h"
#include "sim_time.h"

namespace nomad::sim {

enum class FaultKind : uint8_t {
  kIsolateLeader,    // the leader alone on one side
  kSplitMinority,    // a random minority against the majority
  kRandomPartition,  // nodes scattered over two or three groups
  kHealPartition,
  kCrashLeader,
  kCrashRandom,
  kRestartOne,      // bring one crashed node back early
  kNetworkChange,   // new drop / duplicate / delay rates
  kTransferLeader,  // ask the leader to hand over to a random node
  // Membership changes: not drawn with the faults above but on a schedule of their own
  // (Scenario::membership_gap_*), so that they overlap every kind of fault.
  kAddServer,     // the leader adds a node outside the cluster (a learner, then promoted)
  kRemoveServer,  // the leader removes a member other than itself
  kRemoveLeader,  // the leader removes itself (thesis §4.2.2)
  kNone,
  kCount,
};

const char* fault_kind_name(FaultKind kind);

// The broad shape of a seed's faults.
enum class FaultProfile : uint8_t {
  // Random partitions, crashes, restarts and network changes at a steady pace.
  kMixed,
  // Almost every new leader is struck down soon after it wins, between sparse random faults;
  // appends carry one entry. Builds the divergent multi-term tails of the paper's Figure 8.
  kLeaderChurn,
};

const char* fault_profile_name(FaultProfile profile);
std::optional<FaultProfile> parse_fault_profile(std::string_view name);

struct Scenario {
  FaultProfile profile = FaultProfile::kMixed;
  Time fault_phase = 4 * kSecond;  // faults happen in [0, fault_phase); then everything heals
  Time fault_gap_min = 50 * kMillisecond;
  Time fault_gap_max = 500 * kMillisecond;
  std::array<uint32_t, static_cast<size_t>(FaultKind::kCount)> weights{};

  // A freshly elected leader is isolated (or crashed) soon after winning with this chance.
  // Struck before its no-op reaches a majority, it leaves a divergent tail of its term on a
  // minority; struck while it catches a follower up, it leaves entries of an older term on
  // a bare majority. Together: the paper's Figure 8.
  uint32_t strike_new_leader_per_mille = 0;
  Time strike_delay_min = 1 * kMillisecond;
  Time strike_delay_max = 8 * kMillisecond;
  uint32_t strike_crash_per_mille = 500;  // otherwise the leader is isolated

  // A crashed node restarts after a delay in [down_min, down_max], or with
  // stay_down_per_mille only when everything heals.
  Time down_min = 20 * kMillisecond;
  Time down_max = 1 * kSecond;
  uint32_t stay_down_per_mille = 150;

  // Time from an input to the node's loop taking the next Ready.
  Time loop_min = 10 * kMicrosecond;
  Time loop_max = 200 * kMicrosecond;
  // Time for the node's writer to make a group of queued writes durable (one write and one
  // sync for every Ready queued when it starts); with disk_slow_per_mille, a sync takes up
  // to disk_slow_max instead (a disk stalling under other load).
  Time disk_min = 100 * kMicrosecond;
  Time disk_max = 2 * kMillisecond;
  uint32_t disk_slow_per_mille = 0;
  Time disk_slow_max = 20 * kMillisecond;

  // Clients propose every [client_gap_min, client_gap_max], sometimes a batch of 2-3.
  Time client_gap_min = 2 * kMillisecond;
  Time client_gap_max = 20 * kMillisecond;
  uint32_t batch_per_mille = 150;
  // Clients wait for answers: a leader is sent no more proposals while this many of its
  // earlier ones are unanswered, so a slow leader is not buried under an endless backlog.
  size_t max_pending_per_leader = 32;

  NetworkQuality network;  // at the start; kNetworkChange draws new ones

  // After a membership change, the chance that a second one is proposed at once: the core
  // must refuse it while the first is not committed (one change at a time).
  uint32_t second_change_per_mille = 300;
  // A membership change is attempted every [membership_gap_min, membership_gap_max] during
  // the fault phase (SimOptions::membership_changes): add 50%, remove 35%, remove the leader
  // 15%.
  Time membership_gap_min = 30 * kMillisecond;
  Time membership_gap_max = 300 * kMillisecond;
  // Removals stop at this many voters, so that some fault tolerance remains to test.
  size_t min_voters = 2;

  // A node compacts its log into a snapshot once it has applied this many entries since its
  // last snapshot (0: never). Followers that fall behind a compacted log then get the
  // snapshot, in chunks of snapshot_chunk_bytes; snapshot_padding bytes of filler make
  // the snapshot span several chunks.
  raft::Index compact_every = 0;
  size_t snapshot_padding = 0;
  size_t snapshot_chunk_bytes = 1 << 20;

  // Core limits (small ones exercise windowing and repeated Readies).
  size_t max_entries_per_append = 4096;
  size_t max_inflight_appends = 256;
  size_t max_committed_per_ready = 8192;

  // After healing: a leader and every acknowledged write applied everywhere within this.
  Time liveness_deadline = 20 * kSecond;
};

// The scenario of a seed; `profile` overrides the one the seed would draw (a quarter of the
// seeds draw leader churn).
Scenario make_scenario(uint64_t seed, size_t nodes, std::optional<FaultProfile> profile = {});

FaultKind pick_fault(raft::Rng& rng, const Scenario& scenario);

// Drop, duplicate and delay rates for a kNetworkChange, from calm to hostile.
NetworkQuality random_network_quality(raft::Rng& rng);

// A number in [lo, hi].
inline Time uniform(raft::Rng& rng, Time lo, Time hi) { return lo + rng.below(hi - lo + 1); }

}  // namespace nomad::sim
