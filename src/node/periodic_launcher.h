#pragma once

// The leader's side of periodic jobs (README "Periodic jobs"): when a periodic job's next
// tick is due, proposes the decision on it (jobs::decide_ticks) from the applied state. Soft
// state only: a new leader starts afresh, and the job store's guard (a tick is taken only
// if later than the last handled one) makes a decision proposed twice harmless. Runs on the
// node loop thread, which wakes every Raft tick; between due times a call costs a compare.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jobs/job_store.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::node {

class PeriodicLauncher {
 public:
  using Clock = std::chrono::steady_clock;
  // A decision not seen applied by then is proposed again (it may have been lost with a
  // leader change, or refused).
  static constexpr std::chrono::seconds kRetryAfter{3};

  // The commands to propose now, as leader in `term`, at wall-clock `wall_ms`.
  std::vector<nomad_lite::Command> collect(const jobs::JobStore& store, int64_t wall_ms,
                                           Clock::time_point now, uint64_t term);

 private:
  struct InFlight {
    int64_t through_ms = 0;  // the latest tick proposed
    Clock::time_point proposed_at;
  };
  uint64_t term_ = 0;
  uint64_t version_seen_ = UINT64_MAX;
  int64_t next_due_ms_ = 0;  // the earliest tick to act on (wall clock); INT64_MAX: none
  Clock::time_point next_retry_ = Clock::time_point::max();
  std::map<std::string, InFlight> in_flight_;
};

}  // namespace nomad::node
