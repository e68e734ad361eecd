#pragma once

// Placement, run by the leader whenever something changes (a submission or a finish is
// applied, a worker reports, a retry's backoff ends): no polling loop. Pure: it reads the
// applied state and the leader's soft view of the workers and returns the assignments to
// propose.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "jobs/job_store.h"

namespace nomad::jobs {

// The leader's view of one node's worker.
struct WorkerView {
  uint64_t node_id = 0;
  uint32_t slots = 0;
  bool alive = false;      // reported within --worker-timeout
  uint32_t in_flight = 0;  // assignments proposed to it and not yet applied
  // Its running attempts whose finish is proposed and not yet applied: the process is gone,
  // so the slot is free now and the next job can commit in the same entry as the finish.
  uint32_t finishing = 0;
  // Attempts it may hold beyond its slots, waiting on the node for one of them to free up:
  // the next job then starts the moment a process ends, not one Raft round later.
  uint32_t queue = 0;
};

struct Placement {
  std::vector<nomad_lite::AssignJob> assign;
  int64_t next_wakeup_ms = 0;  // earliest end of a retry backoff among skipped jobs; 0: none
};

// Places pending jobs (highest priority, then oldest first) onto alive, eligible workers with free
// slots (or room in their queue), each onto the node with the most free slots (ties: the fewest
// running jobs, then the next node after `*cursor` in id order, which then moves on), so load
// spreads across the cluster even when jobs come one at a time. `skip` holds jobs already being
// assigned.
Placement place(const JobStore& store, const std::vector<WorkerView>& workers, int64_t now_ms,
                const std::set<std::string>& skip, size_t max_assignments = 4096,
                uint64_t* cursor = nullptr);

// Places jobs whose submissions are being proposed right now (not in the store yet), in the
// given order, each as attempt 1, by the same rule as place(); a job that finds no free slot
// is left out (placed by place() once its submission is applied).
std::vector<nomad_lite::AssignJob> place_submitted(const JobStore& store,
                                                   const std::vector<WorkerView>& workers,
                                                   const std::vector<std::string>& job_ids,
                                                   uint64_t* cursor = nullptr);

}  // namespace nomad::jobs
