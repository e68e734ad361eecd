#pragma once

// Placement, run by the leader whenever something changes (a submission or a finish is
// applied, a worker reports, a retry's backoff ends): no polling loop. Pure: it reads the
// applied state and the leader's soft view of the workers and returns the assignments to
// propose.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "jobs/job_store.h"
#include "jobs/placement_policy.h"
#include "jobs/resources.h"

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
  // What it offers, as it last reported (null: it reported none; then no CPU or memory limit
  // is known and it has no labels).
  std::shared_ptr<const nomad_lite::NodeCapacity> capacity{};
  // CPU and memory of the assignments in flight to it (reserved beyond the store's
  // reserved_on()), and of the finishing attempts (released before their finish applies).
  Usage in_flight_usage{};
  Usage finishing_usage{};
};

// A job whose submission is being proposed now (not in the store yet).
struct NewJob {
  std::string id;
  nomad_lite::Resources resources;
  google::protobuf::RepeatedPtrField<std::string> constraints;
};

struct Placement {
  std::vector<nomad_lite::AssignJob> assign;
  int64_t next_wakeup_ms = 0;  // earliest end of a retry backoff among skipped jobs; 0: none
};

// Places pending jobs (highest priority, then oldest first) onto alive, eligible workers that
// fit them: a free slot (or room in their queue), the CPU and memory the job asks for free
// (capacity minus the attempts placed there and not finished, in-flight ones included), and
// every constraint holding on the node's labels.
// Spread: the node with the most free slots (ties: the most free CPU/memory share, the fewest
// running jobs, then the next node after `*cursor` in id order, which then moves on), so load
// spreads across the cluster even when jobs come one at a time.
// Binpack: the fullest node with a free slot (least free CPU/memory share, then fewest free
// slots, then lowest id); only when no fitting node has a slot free does a queue take it.
// A job that fits no node now does not block the jobs behind it, with one exception that keeps
// it from starving: it holds the node it would fit best once that node's attempts end (among
// those whose whole capacity is enough and that no earlier job holds), and no job behind it is
// placed on that node meanwhile. `skip` holds jobs already being assigned.
Placement place(const JobStore& store, const std::vector<WorkerView>& workers, int64_t now_ms,
                const std::set<std::string>& skip, size_t max_assignments = 4096,
                uint64_t* cursor = nullptr, PlacementPolicy policy = PlacementPolicy::kSpread);

// Places jobs whose submissions are being proposed right now (not in the store yet), in the
// given order, each as attempt 1, by the same rule as place(); the first job that fits no node
// is left out with every job after it (placed by place() once their submissions apply, in
// queue order).
std::vector<nomad_lite::AssignJob> place_new_jobs(
    const JobStore& store, const std::vector<WorkerView>& workers, const std::vector<NewJob>& jobs,
    uint64_t* cursor = nullptr, PlacementPolicy policy = PlacementPolicy::kSpread);
// place_new_jobs() for jobs that ask for no resources and have no constraints.
std::vector<nomad_lite::AssignJob> place_submitted(const JobStore& store,
                                                   const std::vector<WorkerView>& workers,
                                                   const std::vector<std::string>& job_ids,
                                                   uint64_t* cursor = nullptr);

}  // namespace nomad::jobs
