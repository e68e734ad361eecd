#include "jobs/scheduler.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace nomad::jobs {

namespace {

// The alive, eligible workers that run jobs, what each has free, and the rule that picks one
// for the next job. Nodes that could take a job asking for nothing are also kept in order of
// the rule (`ready_`), so such a job, the common case, is placed in O(log n) rather than by
// looking at every node (a thousand agents, a hundred jobs a round).
class Candidates {
 public:
  // Without a cursor of the caller's, ties rotate from node 1 for this placement only.
  Candidates(const JobStore& store, const std::vector<WorkerView>& workers, uint64_t* cursor,
             PlacementPolicy policy)
      : cursor_(cursor ? cursor : &own_cursor_), policy_(policy) {
    nodes_.reserve(workers.size());
    for (const auto& w : workers) {
      // A drained or ineligible node takes no new job, whatever its free slots.
      if (!w.alive || w.slots == 0 || !store.eligible(w.node_id)) continue;
      size_t running = store.running_on(w.node_id) + w.in_flight;
      running -= std::min<size_t>(running, w.finishing);
      Node n;
      n.capacity = w.capacity;
      n.room.node_id = w.node_id;
      n.room.capacity = w.capacity.get();
      n.room.free_slots = static_cast<int64_t>(w.slots) + static_cast<int64_t>(w.queue) -
                          static_cast<int64_t>(running);
      n.free_run = static_cast<int64_t>(w.slots) - static_cast<int64_t>(running);
      n.running = running;
      if (w.capacity) {
        Usage used = store.reserved_on(w.node_id);
        used.add(w.in_flight_usage);
        used.remove(w.finishing_usage);
        n.room.free.millicores = to_millicores(w.capacity->cpu()) - used.millicores;
        uint64_t memory = w.capacity->memory_bytes();
        n.room.free.memory_bytes = memory - std::min(memory, used.memory_bytes);
      }
      if (n.room.free_slots > 0) ++open_;
      nodes_.push_back(std::move(n));
    }
    for (size_t i = 0; i < nodes_.size(); ++i) index(i);
  }

  // Some node not held for another job has a slot (or queue room) free.
  bool any_free() const { return open_ > 0; }

  // The node the policy picks among those that fit `needs` now (0: none), its room taken.
  uint64_t take(const Needs& needs) {
    Node* best = asks_nothing(needs) ? best_ready() : best_fitting(needs);
    if (!best) return 0;
    const size_t i = static_cast<size_t>(best - nodes_.data());
    unindex(i);
    best->room.free_slots -= 1;
    if (best->room.free_slots == 0) --open_;
    best->free_run -= 1;
    best->running += 1;
    best->room.free.millicores -= needs.usage.millicores;
    best->room.free.memory_bytes -=
        std::min(best->room.free.memory_bytes, needs.usage.memory_bytes);
    index(i);
    if (policy_ == PlacementPolicy::kSpread) *cursor_ = best->room.node_id;
    return best->room.node_id;
  }

  // Holds for a job that fits nowhere now the node it fits best once attempts end there: the
  // jobs after it are not placed there meanwhile, so it does not wait forever.
  void hold(const Needs& needs) {
    Node* best = nullptr;
    auto score = [&](const Node& n) {
      return std::make_tuple(n.room.has_room(needs), n.room.free_share(), n.room.free_slots);
    };
    for (auto& n : nodes_) {
      if (n.held || !n.room.matches(needs) || !n.room.could_ever_fit(needs)) continue;
      if (!best || score(n) > score(*best)) best = &n;
    }
    if (!best) return;
    unindex(static_cast<size_t>(best - nodes_.data()));
    best->held = true;
    if (best->room.free_slots > 0) --open_;
  }

 private:
  // A node's place in the policy's order: lower is better (see better()). Spread's last rule,
  // the distance after the cursor, is not part of it: best_ready() applies it.
  struct Key {
    int64_t first = 0;
    double second = 0;
    int64_t third = 0;
    uint64_t node_id = 0;
    size_t index = 0;  // in nodes_

    bool same_rank(const Key& o) const {
      return first == o.first && second == o.second && third == o.third;
    }
    bool operator<(const Key& o) const {
      return std::tie(first, second, third, node_id) <
             std::tie(o.first, o.second, o.third, o.node_id);
    }
  };

  struct Node {
    NodeRoom room;
    std::shared_ptr<const nomad_lite::NodeCapacity> capacity;  // keeps room.capacity alive
    int64_t free_run = 0;  // slots not running anything (the rest of free_slots is queue)
    size_t running = 0;
    bool held = false;
    bool indexed = false;
    Key key;  // as in ready_, while indexed
  };

  static bool asks_nothing(const Needs& needs) {
    return needs.usage.empty() && needs.constraints.empty() && needs.bad_constraint.empty();
  }

  // A job asking for nothing fits: not held, a slot (or queue room) free, CPU not overdrawn
  // (NodeRoom::has_room with no usage).
  static bool takes_any(const Node& n) {
    return !n.held && n.room.free_slots > 0 && (!n.capacity || n.room.free.millicores >= 0);
  }

  Key key_of(const Node& n, size_t i) const {
    if (policy_ == PlacementPolicy::kBinpack) {
      return {n.free_run > 0 ? 0 : 1, n.room.free_share(), n.room.free_slots, n.room.node_id, i};
    }
    return {-n.room.free_slots, -n.room.free_share(), static_cast<int64_t>(n.running),
            n.room.node_id, i};
  }

  void index(size_t i) {
    Node& n = nodes_[i];
    if (!takes_any(n)) return;
    n.key = key_of(n, i);
    n.indexed = true;
    ready_.insert(n.key);
  }

  void unindex(size_t i) {
    Node& n = nodes_[i];
    if (!n.indexed) return;
    ready_.erase(n.key);
    n.indexed = false;
  }

  // The best node for a job asking for nothing: the first of the best rank, and with spread
  // among equals the first after the cursor in id order, wrapping.
  Node* best_ready() {
    if (ready_.empty()) return nullptr;
    auto first = ready_.begin();
    if (policy_ == PlacementPolicy::kSpread) {
      Key after = *first;
      after.node_id = *cursor_ + 1;  // wraps to 0 after the last id, as after_cursor does
      auto next = ready_.lower_bound(after);
      if (next != ready_.end() && next->same_rank(*first)) return &nodes_[next->index];
    }
    return &nodes_[first->index];
  }

  Node* best_fitting(const Needs& needs) {
    Node* best = nullptr;
    for (auto& n : nodes_) {
      if (n.held || n.room.free_slots <= 0 || !n.room.matches(needs) || !n.room.has_room(needs)) {
        continue;
      }
      if (!best || better(n, *best)) best = &n;
    }
    return best;
  }

  bool better(const Node& a, const Node& b) const {
    if (policy_ == PlacementPolicy::kBinpack) {
      // The fullest node that can start it now; a queue only when none can.
      bool a_runs = a.free_run > 0, b_runs = b.free_run > 0;
      if (a_runs != b_runs) return a_runs;
      double a_share = a.room.free_share(), b_share = b.room.free_share();
      if (a_share != b_share) return a_share < b_share;
      if (a.room.free_slots != b.room.free_slots) return a.room.free_slots < b.room.free_slots;
      return a.room.node_id < b.room.node_id;
    }
    // Distance after the cursor in id order, wrapping: the node right after the last one used
    // comes first.
    auto after_cursor = [this](uint64_t id) { return id - *cursor_ - 1; };  // unsigned wrap
    if (a.room.free_slots != b.room.free_slots) return a.room.free_slots > b.room.free_slots;
    double a_share = a.room.free_share(), b_share = b.room.free_share();
    if (a_share != b_share) return a_share > b_share;
    if (a.running != b.running) return a.running < b.running;
    return after_cursor(a.room.node_id) < after_cursor(b.room.node_id);
  }

  std::vector<Node> nodes_;
  std::set<Key> ready_;  // the nodes takes_any() holds for, in the policy's order
  size_t open_ = 0;      // nodes not held with free_slots > 0
  uint64_t own_cursor_ = 0;
  uint64_t* cursor_;
  PlacementPolicy policy_;
};

nomad_lite::AssignJob assignment(const std::string& job_id, uint32_t attempt, uint64_t node) {
  nomad_lite::AssignJob a;
  a.set_job_id(job_id);
  a.set_attempt(attempt);
  a.set_node_id(node);
  return a;
}

// Jobs alike in what they ask: one that fitted nowhere in this placement means the next one
// will not either (room only shrinks as jobs are placed).
std::string needs_key(const Needs& needs) {
  std::string key = std::to_string(needs.usage.millicores) + "/" +
                    std::to_string(needs.usage.memory_bytes) + "/" + needs.bad_constraint;
  for (const auto& c : needs.constraints) key += "/" + c.text();
  return key;
}

}  // namespace

Placement place(const JobStore& store, const std::vector<WorkerView>& workers, int64_t now_ms,
                const std::set<std::string>& skip, size_t max_assignments, uint64_t* cursor,
                PlacementPolicy policy) {
  Candidates nodes(store, workers, cursor, policy);
  std::set<std::string> unfit;
  Placement out;
  for (const auto& [key, id] : store.pending_queue()) {
    if (out.assign.size() >= max_assignments || !nodes.any_free()) break;
    if (skip.count(id)) continue;
    const nomad_lite::Job* job = store.find(id);
    if (!job) continue;
    if (job->not_before_ms() > now_ms) {
      if (out.next_wakeup_ms == 0 || job->not_before_ms() < out.next_wakeup_ms) {
        out.next_wakeup_ms = job->not_before_ms();
      }
      continue;
    }
    Needs needs = needs_of(*job);
    std::string alike = needs_key(needs);
    if (unfit.count(alike)) continue;
    uint64_t node = nodes.take(needs);
    if (node == 0) {
      unfit.insert(std::move(alike));
      nodes.hold(needs);
      continue;
    }
    out.assign.push_back(assignment(id, static_cast<uint32_t>(job->attempts_size()) + 1, node));
  }
  return out;
}

std::vector<nomad_lite::AssignJob> place_new_jobs(const JobStore& store,
                                                  const std::vector<WorkerView>& workers,
                                                  const std::vector<NewJob>& jobs, uint64_t* cursor,
                                                  PlacementPolicy policy) {
  Candidates nodes(store, workers, cursor, policy);
  std::vector<nomad_lite::AssignJob> out;
  for (const auto& job : jobs) {
    uint64_t node = nodes.take(needs_of(job.resources, job.constraints));
    if (node == 0) break;
    out.push_back(assignment(job.id, 1, node));
  }
  return out;
}

std::vector<nomad_lite::AssignJob> place_submitted(const JobStore& store,
                                                   const std::vector<WorkerView>& workers,
                                                   const std::vector<std::string>& job_ids,
                                                   uint64_t* cursor) {
  std::vector<NewJob> jobs;
  jobs.reserve(job_ids.size());
  for (const auto& id : job_ids) jobs.push_back({id, {}, {}});
  return place_new_jobs(store, workers, jobs, cursor);
}

}  // namespace nomad::jobs
