#include "scenario.h"

#include <iterator>

namespace nomad::sim {

const char* fault_kind_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kIsolateLeader:
      return "isolate-leader";
    case FaultKind::kSplitMinority:
      return "split-minority";
    case FaultKind::kRandomPartition:
      return "random-partition";
    case FaultKind::kHealPartition:
      return "heal-partition";
    case FaultKind::kCrashLeader:
      return "crash-leader";
    case FaultKind::kCrashRandom:
      return "crash-random";
    case FaultKind::kRestartOne:
      return "restart-one";
    case FaultKind::kNetworkChange:
      return "network-change";
    case FaultKind::kTransferLeader:
      return "transfer-leader";
    case FaultKind::kAddServer:
      return "add-server";
    case FaultKind::kRemoveServer:
      return "remove-server";
    case FaultKind::kRemoveLeader:
      return "remove-leader";
    case FaultKind::kNone:
      return "none";
    case FaultKind::kCount:
      break;
  }
  return "unknown";
}

NetworkQuality random_network_quality(raft::Rng& rng) {
  NetworkQuality q;
  static constexpr uint32_t kDrops[] = {0, 0, 10, 50, 100, 200};
  static constexpr uint32_t kDuplicates[] = {0, 10, 50, 100};
  q.drop_per_mille = kDrops[rng.below(std::size(kDrops))];
  q.duplicate_per_mille = kDuplicates[rng.below(std::size(kDuplicates))];
  q.min_delay = uniform(rng, 100, 1000) * kMicrosecond;
  q.max_delay = q.min_delay + uniform(rng, 500, 10000) * kMicrosecond;
  q.slow_per_mille = static_cast<uint32_t>(rng.below(100));
  q.max_slow_delay = uniform(rng, 5, 80) * kMillisecond;
  return q;
}

const char* fault_profile_name(FaultProfile profile) {
  switch (profile) {
    case FaultProfile::kMixed:
      return "mixed";
    case FaultProfile::kLeaderChurn:
      return "leader-churn";
  }
  return "unknown";
}

std::optional<FaultProfile> parse_fault_profile(std::string_view name) {
  if (name == "mixed") return FaultProfile::kMixed;
  if (name == "leader-churn") return FaultProfile::kLeaderChurn;
  return std::nullopt;
}

Scenario make_scenario(uint64_t seed, size_t nodes, std::optional<FaultProfile> profile) {
  raft::Rng rng(seed ^ 0x5ce0a10ULL);
  Scenario s;
  // Drawn even when the caller fixes the profile, so the rest of the seed stays the same.
  FaultProfile drawn = rng.chance(1, 4) ? FaultProfile::kLeaderChurn : FaultProfile::kMixed;
  s.profile = profile.value_or(drawn);
  const bool churn = s.profile == FaultProfile::kLeaderChurn;

  s.fault_phase = uniform(rng, 2000, 5000) * kMillisecond;
  s.fault_gap_min = uniform(rng, 20, 100) * kMillisecond;
  s.fault_gap_max = s.fault_gap_min + uniform(rng, 100, 600) * kMillisecond;
  if (churn) {
    // Few random faults, so that what the strikes set up has time to play out.
    s.fault_gap_max = s.fault_gap_min + uniform(rng, 1000, 3000) * kMillisecond;
  }

  auto w = [&s](FaultKind k) -> uint32_t& { return s.weights[static_cast<size_t>(k)]; };
  w(FaultKind::kIsolateLeader) = 12;
  w(FaultKind::kSplitMinority) = 12;
  w(FaultKind::kRandomPartition) = 6;
  w(FaultKind::kHealPartition) = 18;
  w(FaultKind::kCrashLeader) = 10;
  w(FaultKind::kCrashRandom) = 10;
  w(FaultKind::kRestartOne) = 8;
  w(FaultKind::kNetworkChange) = 10;
  w(FaultKind::kTransferLeader) = 4;
  w(FaultKind::kNone) = 10;
  // A third of the seeds lean hard on one kind of fault.
  switch (rng.below(6)) {
    case 0:
      w(FaultKind::kIsolateLeader) *= 3;
      w(FaultKind::kSplitMinority) *= 3;
      break;
    case 1:
      w(FaultKind::kCrashLeader) *= 3;
      w(FaultKind::kCrashRandom) *= 3;
      break;
    default:
      break;
  }
  if (nodes == 1) {
    // Nothing to partition or transfer to; crashes and restarts remain.
    w(FaultKind::kIsolateLeader) = w(FaultKind::kSplitMinority) = 0;
    w(FaultKind::kRandomPartition) = w(FaultKind::kTransferLeader) = 0;
  }

  if (churn) {
    s.strike_new_leader_per_mille = static_cast<uint32_t>(uniform(rng, 700, 1000));
    s.strike_delay_max = 256 * kMillisecond;
    s.strike_crash_per_mille = static_cast<uint32_t>(rng.below(100));
  } else {
    s.strike_new_leader_per_mille = static_cast<uint32_t>(rng.below(4) * 100);
    s.strike_delay_max = uniform(rng, 1, 64) * kMillisecond;
    s.strike_crash_per_mille = 500;
  }

  s.down_min = uniform(rng, 5, 50) * kMillisecond;
  s.down_max = s.down_min + uniform(rng, 50, 1500) * kMillisecond;
  s.stay_down_per_mille = static_cast<uint32_t>(rng.below(250));

  if (rng.chance(1, 5)) s.disk_max = uniform(rng, 3, 10) * kMillisecond;  // slow disks

  s.client_gap_min = uniform(rng, 1, 5) * kMillisecond;
  s.client_gap_max = s.client_gap_min + uniform(rng, 2, 30) * kMillisecond;
  s.batch_per_mille = static_cast<uint32_t>(rng.below(300));
  s.max_pending_per_leader = uniform(rng, 4, 64);

  s.network = random_network_quality(rng);

  // Two thirds of the seeds compact, some of them often and in small chunks.
  static constexpr raft::Index kCompactEvery[] = {0, 0, 5, 20, 50, 200};
  s.compact_every = kCompactEvery[rng.below(std::size(kCompactEvery))];
  s.snapshot_padding = static_cast<size_t>(rng.below(200));
  if (rng.chance(1, 2)) s.snapshot_chunk_bytes = uniform(rng, 8, 64);

  // Small limits split a follower's catch-up into many appends; leader churn relies on it
  // (an old-term entry reaches a majority before the new leader's no-op does).
  bool small_limits = rng.chance(1, 4);
  size_t small_entries = uniform(rng, 1, 4);
  size_t small_inflight = uniform(rng, 1, 8);
  size_t small_committed = uniform(rng, 1, 6);
  if (small_limits || churn) {
    s.max_entries_per_append = churn ? 1 : small_entries;
    s.max_inflight_appends = small_inflight;
    s.max_committed_per_ready = small_committed;
  }

  // Drawn last, so the draws above stay what they were for every seed. Half the seeds have
  // a disk that stalls now and then: writes complete well after the messages sent with them.
  s.loop_max = uniform(rng, 20, 500) * kMicrosecond;
  if (rng.chance(1, 2)) s.disk_slow_per_mille = static_cast<uint32_t>(uniform(rng, 10, 100));
  s.disk_slow_max = uniform(rng, 5, 40) * kMillisecond;
  return s;
}

FaultKind pick_fault(raft::Rng& rng, const Scenario& scenario) {
  uint64_t total = 0;
  for (uint32_t w : scenario.weights) total += w;
  if (total == 0) return FaultKind::kNone;
  uint64_t r = rng.below(total);
  for (size_t k = 0; k < scenario.weights.size(); ++k) {
    if (r < scenario.weights[k]) return static_cast<FaultKind>(k);
    r -= scenario.weights[k];
  }
  return FaultKind::kNone;
}

}  // namespace nomad::sim
