#include "jobs/scheduler.h"

#include <algorithm>

namespace nomad::jobs {

namespace {

// The workers with free slots, and the rule that picks one for the next job.
class FreeSlots {
 public:
  // Without a cursor of the caller's, ties rotate from node 1 for this placement only.
  FreeSlots(const JobStore& store, const std::vector<WorkerView>& workers, uint64_t* cursor)
      : cursor_(cursor ? cursor : &own_cursor_) {
    for (const auto& w : workers) {
      // A drained or ineligible node takes no new job, whatever its free slots.
      if (!w.alive || w.slots == 0 || !store.eligible(w.node_id)) continue;
      size_t running = store.running_on(w.node_id) + w.in_flight;
      running -= std::min<size_t>(running, w.finishing);
      int64_t free = static_cast<int64_t>(w.slots) + static_cast<int64_t>(w.queue) -
                     static_cast<int64_t>(running);
      if (free > 0) candidates_.push_back({free, running, w.node_id});
    }
  }

  bool empty() const { return candidates_.empty(); }

  // The node with the most free slots (ties: the fewest running jobs, then the next node
  // after the cursor in id order); takes one of its slots and moves the cursor to it.
  uint64_t take() {
    // Distance after the cursor in id order, wrapping: the node right after the last one used
    // comes first.
    auto after_cursor = [this](uint64_t id) { return id - *cursor_ - 1; };  // unsigned wrap
    auto better = [&](const Free& a, const Free& b) {
      if (a.free != b.free) return a.free > b.free;
      if (a.running != b.running) return a.running < b.running;
      return after_cursor(a.node_id) < after_cursor(b.node_id);
    };
    auto best = std::min_element(candidates_.begin(), candidates_.end(), better);
    uint64_t node = best->node_id;
    *cursor_ = node;
    best->free -= 1;
    best->running += 1;
    if (best->free == 0) candidates_.erase(best);
    return node;
  }

 private:
  struct Free {
    int64_t free;
    size_t running;
    uint64_t node_id;
  };
  std::vector<Free> candidates_;
  uint64_t own_cursor_ = 0;
  uint64_t* cursor_;
};

nomad_lite::AssignJob assignment(const std::string& job_id, uint32_t attempt, uint64_t node) {
  nomad_lite::AssignJob a;
  a.set_job_id(job_id);
  a.set_attempt(attempt);
  a.set_node_id(node);
  return a;
}

}  // namespace

Placement place(const JobStore& store, const std::vector<WorkerView>& workers, int64_t now_ms,
                const std::set<std::string>& skip, size_t max_assignments, uint64_t* cursor) {
  FreeSlots slots(store, workers, cursor);
  Placement out;
  for (const auto& [key, id] : store.pending_queue()) {
    if (slots.empty() || out.assign.size() >= max_assignments) break;
    if (skip.count(id)) continue;
    const nomad_lite::Job* job = store.find(id);
    if (!job) continue;
    if (job->not_before_ms() > now_ms) {
      if (out.next_wakeup_ms == 0 || job->not_before_ms() < out.next_wakeup_ms) {
        out.next_wakeup_ms = job->not_before_ms();
      }
      continue;
    }
    out.assign.push_back(
        assignment(id, static_cast<uint32_t>(job->attempts_size()) + 1, slots.take()));
  }
  return out;
}

std::vector<nomad_lite::AssignJob> place_submitted(const JobStore& store,
                                                   const std::vector<WorkerView>& workers,
                                                   const std::vector<std::string>& job_ids,
                                                   uint64_t* cursor) {
  FreeSlots slots(store, workers, cursor);
  std::vector<nomad_lite::AssignJob> out;
  for (const auto& id : job_ids) {
    if (slots.empty()) break;
    out.push_back(assignment(id, 1, slots.take()));
  }
  return out;
}

}  // namespace nomad::jobs
