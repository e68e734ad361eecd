#include "jobs/scheduler.h"

#include <algorithm>

namespace nomad::jobs {

Placement place(const JobStore& store, std::vector<WorkerView> workers, int64_t now_ms,
                const std::set<std::string>& skip, size_t max_assignments, uint64_t* cursor) {
  uint64_t no_cursor = 0;
  if (!cursor) cursor = &no_cursor;
  Placement out;
  struct Free {
    int64_t free;
    size_t running;
    WorkerView* worker;
  };
  std::vector<Free> candidates;
  for (auto& w : workers) {
    if (!w.alive || w.slots == 0) continue;
    size_t running = store.running_on(w.node_id) + w.in_flight;
    int64_t free = static_cast<int64_t>(w.slots) - static_cast<int64_t>(running);
    if (free > 0) candidates.push_back({free, running, &w});
  }
  // Distance after the cursor in id order, wrapping: the node right after the last one used
  // comes first.
  auto after_cursor = [cursor](uint64_t id) { return id - *cursor - 1; };  // unsigned wrap
  auto better = [&](const Free& a, const Free& b) {
    if (a.free != b.free) return a.free > b.free;
    if (a.running != b.running) return a.running < b.running;
    return after_cursor(a.worker->node_id) < after_cursor(b.worker->node_id);
  };
  for (const auto& [key, id] : store.pending_queue()) {
    if (candidates.empty() || out.assign.size() >= max_assignments) break;
    if (skip.count(id)) continue;
    const nomad_lite::Job* job = store.find(id);
    if (!job) continue;
    if (job->not_before_ms() > now_ms) {
      if (out.next_wakeup_ms == 0 || job->not_before_ms() < out.next_wakeup_ms) {
        out.next_wakeup_ms = job->not_before_ms();
      }
      continue;
    }
    auto best = std::min_element(candidates.begin(), candidates.end(), better);
    nomad_lite::AssignJob a;
    a.set_job_id(id);
    a.set_attempt(static_cast<uint32_t>(job->attempts_size()) + 1);
    a.set_node_id(best->worker->node_id);
    *cursor = best->worker->node_id;
    out.assign.push_back(std::move(a));
    best->free -= 1;
    best->running += 1;
    if (best->free == 0) candidates.erase(best);
  }
  return out;
}

}  // namespace nomad::jobs
