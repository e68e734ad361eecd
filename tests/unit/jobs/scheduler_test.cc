// Placement: which pending jobs go where, given the applied state and the leader's view of
// the workers.

#include "jobs/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/job_commands.h"

namespace nomad::jobs {
namespace {

using namespace nomad::jobs::testing;  // NOLINT

WorkerView worker(uint64_t id, uint32_t slots, bool alive = true, uint32_t in_flight = 0) {
  WorkerView w;
  w.node_id = id;
  w.slots = slots;
  w.alive = alive;
  w.in_flight = in_flight;
  return w;
}

// Jobs "j1".."jn", pending, in submission order.
Replica with_pending(int n) {
  Replica r;
  for (int i = 1; i <= n; ++i) r.apply(submit_cmd("j" + std::to_string(i)));
  return r;
}

std::map<uint64_t, int> per_node(const Placement& p) {
  std::map<uint64_t, int> out;
  for (const auto& a : p.assign) ++out[a.node_id()];
  return out;
}

std::vector<std::string> ids(const Placement& p) {
  std::vector<std::string> out;
  for (const auto& a : p.assign) out.push_back(a.job_id());
  return out;
}

void apply_placement(Replica& r, const Placement& p, int64_t at_ms) {
  nomad_lite::Command c;
  c.mutable_updates()->set_at_ms(at_ms);
  for (const auto& a : p.assign) *c.mutable_updates()->add_assign() = a;
  r.apply(c);
}

TEST(Scheduler, SpreadsJobsEvenlyOverEqualNodes) {
  Replica r = with_pending(9);
  std::vector<WorkerView> workers{worker(1, 4), worker(2, 4), worker(3, 4)};
  Placement p = place(r.store(), workers, 0, {});
  EXPECT_EQ(p.assign.size(), 9u);
  EXPECT_EQ(per_node(p), (std::map<uint64_t, int>{{1, 3}, {2, 3}, {3, 3}}));
  // Round robin in node order while they tie.
  EXPECT_EQ(p.assign[0].node_id(), 1u);
  EXPECT_EQ(p.assign[1].node_id(), 2u);
  EXPECT_EQ(p.assign[2].node_id(), 3u);
  EXPECT_EQ(p.assign[3].node_id(), 1u);
  EXPECT_EQ(p.next_wakeup_ms, 0);
}

TEST(Scheduler, AnUnevenCountDiffersByAtMostOnePerNode) {
  Replica r = with_pending(7);
  Placement p = place(r.store(), {worker(3, 4), worker(1, 4), worker(2, 4)}, 0, {});
  EXPECT_EQ(per_node(p), (std::map<uint64_t, int>{{1, 3}, {2, 2}, {3, 2}}));
}

TEST(Scheduler, EveryAssignmentIsTheJobsNextAttemptInQueueOrder) {
  Replica r = with_pending(3);
  Placement p = place(r.store(), {worker(1, 8)}, 0, {});
  EXPECT_EQ(ids(p), (std::vector<std::string>{"j1", "j2", "j3"}));
  for (const auto& a : p.assign) {
    EXPECT_EQ(a.attempt(), 1u);
  }
}

TEST(Scheduler, ARetriedJobGetsItsNextAttemptNumber) {
  Replica r;
  r.apply(submit_cmd("a", Opt().retries(3)));
  r.apply(assign_cmd("a", 1, 1, 0));
  r.apply(finished_cmd("a", 1, 1, 10, std::nullopt, "lost"));
  r.apply(assign_cmd("a", 2, 1, 20));
  r.apply(finished_cmd("a", 2, 1, 30, std::nullopt, "lost"));
  // After the second lost attempt's backoff (2 s).
  Placement p = place(r.store(), {worker(1, 1)}, 2030, {});
  ASSERT_EQ(p.assign.size(), 1u);
  EXPECT_EQ(p.assign[0].attempt(), 3u);
}

TEST(Scheduler, PrefersTheNodeWithTheMostFreeSlots) {
  Replica r = with_pending(8);
  Placement p = place(r.store(), {worker(1, 8), worker(2, 2)}, 0, {});
  ASSERT_EQ(p.assign.size(), 8u);
  // Node 1 takes jobs until both have 2 free; then they alternate (node 2 runs fewer).
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(p.assign[i].node_id(), 1u) << i;
  }
  EXPECT_EQ(p.assign[6].node_id(), 2u);
  EXPECT_EQ(p.assign[7].node_id(), 1u);
}

TEST(Scheduler, TiesInFreeSlotsGoToTheNodeRunningFewerJobsThenTheNextAfterTheCursor) {
  Replica r = with_pending(3);
  r.apply(assign_cmd("j1", 1, 2, 0));  // node 2: 3 slots, 1 running → 2 free, 1 running
  std::vector<WorkerView> workers{worker(2, 3), worker(3, 2), worker(1, 2)};
  // Nodes 1 and 3 have 2 free and none running; node 2 has 2 free but runs a job, so it
  // loses the tie although it comes right after the cursor.
  uint64_t cursor = 1;
  Placement p = place(r.store(), workers, 0, {}, 4096, &cursor);
  ASSERT_EQ(p.assign.size(), 2u);
  EXPECT_EQ(p.assign[0].node_id(), 3u);
  EXPECT_EQ(p.assign[1].node_id(), 1u);
  EXPECT_EQ(cursor, 1u);
  // Without a cursor the rotation starts at the lowest id.
  p = place(r.store(), workers, 0, {});
  ASSERT_EQ(p.assign.size(), 2u);
  EXPECT_EQ(p.assign[0].node_id(), 1u);
  EXPECT_EQ(p.assign[1].node_id(), 3u);
}

TEST(Scheduler, TheCursorPicksTheNodeAfterTheLastOneUsedAndMovesOn) {
  Replica r = with_pending(4);
  std::vector<WorkerView> workers{worker(1, 4), worker(2, 4), worker(3, 4)};
  uint64_t cursor = 2;
  Placement p = place(r.store(), workers, 0, {}, 1, &cursor);
  ASSERT_EQ(p.assign.size(), 1u);
  EXPECT_EQ(p.assign[0].node_id(), 3u);
  EXPECT_EQ(cursor, 3u);
  // It wraps from the highest id to the lowest.
  p = place(r.store(), workers, 0, {}, 3, &cursor);
  EXPECT_EQ(per_node(p), (std::map<uint64_t, int>{{1, 1}, {2, 1}, {3, 1}}));
  EXPECT_EQ(p.assign[0].node_id(), 1u);
  EXPECT_EQ(p.assign[1].node_id(), 2u);
  EXPECT_EQ(p.assign[2].node_id(), 3u);
  EXPECT_EQ(cursor, 3u);
}

TEST(Scheduler, TheCursorMayNameANodeThatIsNotACandidate) {
  Replica r = with_pending(1);
  std::vector<WorkerView> workers{worker(1, 1), worker(3, 1), worker(5, 1), worker(4, 1, false)};
  for (auto [from, expected] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 1}, {1, 3}, {2, 3}, {3, 5}, {4, 5}, {5, 1}, {9, 1}, {UINT64_MAX, 1}}) {
    uint64_t cursor = from;
    Placement p = place(r.store(), workers, 0, {}, 4096, &cursor);
    ASSERT_EQ(p.assign.size(), 1u) << "cursor " << from;
    EXPECT_EQ(p.assign[0].node_id(), expected) << "cursor " << from;
    EXPECT_EQ(cursor, expected);
  }
}

TEST(Scheduler, MoreFreeSlotsBeatTheCursor) {
  Replica r = with_pending(1);
  uint64_t cursor = 1;  // node 2 would be next
  Placement p = place(r.store(), {worker(1, 3), worker(2, 2)}, 0, {}, 4096, &cursor);
  ASSERT_EQ(p.assign.size(), 1u);
  EXPECT_EQ(p.assign[0].node_id(), 1u);
  EXPECT_EQ(cursor, 1u);
}

TEST(Scheduler, TheCursorStaysWhenNothingIsPlaced) {
  Replica r = with_pending(2);
  uint64_t cursor = 2;
  EXPECT_TRUE(
      place(r.store(), {worker(1, 0), worker(3, 4, false)}, 0, {}, 4096, &cursor).assign.empty());
  EXPECT_EQ(cursor, 2u);
  Replica empty;
  EXPECT_TRUE(place(empty.store(), {worker(1, 4)}, 0, {}, 4096, &cursor).assign.empty());
  EXPECT_EQ(cursor, 2u);
}

TEST(Scheduler, JobsArrivingOneAtATimeRotateOverTheNodes) {
  // Each job is placed and finished before the next arrives: every node is idle at each
  // placement, so only the cursor spreads them.
  Replica r;
  std::vector<WorkerView> workers{worker(1, 2), worker(2, 2), worker(3, 2)};
  uint64_t cursor = 0;
  std::vector<uint64_t> nodes;
  for (int i = 0; i < 7; ++i) {
    std::string id = "j" + std::to_string(i);
    r.apply(submit_cmd(id));
    Placement p = place(r.store(), workers, 0, {}, 4096, &cursor);
    ASSERT_EQ(p.assign.size(), 1u);
    nodes.push_back(p.assign[0].node_id());
    apply_placement(r, p, i);
    r.apply(finished_cmd(id, 1, p.assign[0].node_id(), i, 0));
  }
  EXPECT_EQ(nodes, (std::vector<uint64_t>{1, 2, 3, 1, 2, 3, 1}));
}

TEST(Scheduler, RunningJobsAndAssignmentsInFlightUseSlots) {
  Replica r = with_pending(6);
  r.apply(assign_cmd("j1", 1, 1, 0));
  r.apply(assign_cmd("j2", 1, 2, 0));
  // Node 1: 2 slots, 1 running, 1 in flight → full. Node 2: 3 slots, 1 running → 2 free.
  Placement p = place(r.store(), {worker(1, 2, true, 1), worker(2, 3)}, 0, {});
  EXPECT_EQ(per_node(p), (std::map<uint64_t, int>{{2, 2}}));
  EXPECT_EQ(ids(p), (std::vector<std::string>{"j3", "j4"}));
}

TEST(Scheduler, NeverPlacesMoreJobsThanThereAreFreeSlots) {
  Replica r = with_pending(10);
  r.apply(assign_cmd("j1", 1, 2, 0));
  Placement p = place(r.store(), {worker(1, 2), worker(2, 3)}, 0, {});
  EXPECT_EQ(p.assign.size(), 4u);
  EXPECT_EQ(per_node(p), (std::map<uint64_t, int>{{1, 2}, {2, 2}}));
}

TEST(Scheduler, AnOverloadedNodeGetsNothing) {
  // Its worker restarted with fewer slots than the jobs it still runs.
  Replica r = with_pending(4);
  r.apply(assign_cmd("j1", 1, 1, 0));
  r.apply(assign_cmd("j2", 1, 1, 0));
  r.apply(assign_cmd("j3", 1, 1, 0));
  Placement p = place(r.store(), {worker(1, 1), worker(2, 1)}, 0, {});
  ASSERT_EQ(p.assign.size(), 1u);
  EXPECT_EQ(p.assign[0].node_id(), 2u);
}

TEST(Scheduler, DeadNodesAndNodesWithoutSlotsGetNothing) {
  Replica r = with_pending(5);
  Placement p = place(r.store(), {worker(1, 4, false), worker(2, 0), worker(3, 2)}, 0, {});
  EXPECT_EQ(per_node(p), (std::map<uint64_t, int>{{3, 2}}));
  Placement none = place(r.store(), {worker(1, 4, false), worker(2, 0)}, 0, {});
  EXPECT_TRUE(none.assign.empty());
}

TEST(Scheduler, JobsInTheSkipSetAreLeftAlone) {
  Replica r = with_pending(4);
  Placement p = place(r.store(), {worker(1, 2)}, 0, {"j1", "j3"});
  EXPECT_EQ(ids(p), (std::vector<std::string>{"j2", "j4"}));
}

TEST(Scheduler, JobsInTheirBackoffWaitAndTheEarliestEndIsReported) {
  Replica r;
  r.apply(submit_cmd("late", Opt().retries(1)));
  r.apply(submit_cmd("early", Opt().retries(1)));
  r.apply(submit_cmd("fresh"));
  r.apply(assign_cmd("late", 1, 1, 0));
  r.apply(assign_cmd("early", 1, 1, 0));
  r.apply(finished_cmd("late", 1, 1, 4000, 1));   // not before 5000
  r.apply(finished_cmd("early", 1, 1, 2000, 1));  // not before 3000
  ASSERT_EQ(r.job("late").not_before_ms(), 5000);
  ASSERT_EQ(r.job("early").not_before_ms(), 3000);
  std::vector<WorkerView> workers{worker(1, 10)};

  Placement p = place(r.store(), workers, 2500, {});
  EXPECT_EQ(ids(p), std::vector<std::string>{"fresh"});
  EXPECT_EQ(p.next_wakeup_ms, 3000);

  p = place(r.store(), workers, 3000, {"fresh"});
  EXPECT_EQ(ids(p), std::vector<std::string>{"early"});
  EXPECT_EQ(p.assign[0].attempt(), 2u);
  EXPECT_EQ(p.next_wakeup_ms, 5000);

  p = place(r.store(), workers, 5000, {});
  EXPECT_EQ(ids(p), (std::vector<std::string>{"late", "early", "fresh"}));
  EXPECT_EQ(p.next_wakeup_ms, 0);
}

TEST(Scheduler, ASkippedJobInBackoffDoesNotSetTheWakeup) {
  Replica r;
  r.apply(submit_cmd("a", Opt().retries(1)));
  r.apply(assign_cmd("a", 1, 1, 0));
  r.apply(finished_cmd("a", 1, 1, 2000, 1));
  Placement p = place(r.store(), {worker(1, 1)}, 0, {"a"});
  EXPECT_TRUE(p.assign.empty());
  EXPECT_EQ(p.next_wakeup_ms, 0);
}

TEST(Scheduler, HigherPriorityJobsArePlacedFirst) {
  Replica r;
  r.apply(submit_cmd("low", Opt().priority(-5)));
  r.apply(submit_cmd("normal"));
  r.apply(submit_cmd("urgent", Opt().priority(100)));
  r.apply(submit_cmd("normal-2"));
  Placement p = place(r.store(), {worker(1, 2)}, 0, {});
  EXPECT_EQ(ids(p), (std::vector<std::string>{"urgent", "normal"}));
  p = place(r.store(), {worker(1, 10)}, 0, {});
  EXPECT_EQ(ids(p), (std::vector<std::string>{"urgent", "normal", "normal-2", "low"}));
}

TEST(Scheduler, AtMostMaxAssignmentsArePlaced) {
  Replica r = with_pending(10);
  Placement p = place(r.store(), {worker(1, 10), worker(2, 10)}, 0, {}, 3);
  EXPECT_EQ(ids(p), (std::vector<std::string>{"j1", "j2", "j3"}));
  EXPECT_TRUE(place(r.store(), {worker(1, 10)}, 0, {}, 0).assign.empty());
}

TEST(Scheduler, NothingIsPlacedWithoutWorkersOrPendingJobs) {
  Replica empty;
  Placement p = place(empty.store(), {worker(1, 4)}, 0, {});
  EXPECT_TRUE(p.assign.empty());
  EXPECT_EQ(p.next_wakeup_ms, 0);

  Replica r = with_pending(3);
  EXPECT_TRUE(place(r.store(), {}, 0, {}).assign.empty());

  // Every job running or finished: nothing left to place.
  r.apply(assign_cmd("j1", 1, 1, 0));
  r.apply(assign_cmd("j2", 1, 1, 0));
  r.apply(cancel_cmd("j3", 0));
  EXPECT_TRUE(place(r.store(), {worker(1, 10)}, 0, {}).assign.empty());
}

TEST(Scheduler, PlacingAndApplyingRepeatedlyKeepsEveryNodeWithinItsSlots) {
  Replica r = with_pending(40);
  std::vector<WorkerView> workers{worker(1, 3), worker(2, 5), worker(3, 1)};
  int64_t now = 0;
  size_t done = 0;
  for (int round = 0; done < 40; ++round) {
    ASSERT_LT(round, 10) << "placement makes no progress";
    Placement p = place(r.store(), workers, now, {});
    apply_placement(r, p, now);
    for (const auto& w : workers) {
      EXPECT_LE(r.store().running_on(w.node_id), w.slots);
    }
    EXPECT_EQ(r.store().running_on(1) + r.store().running_on(2) + r.store().running_on(3),
              std::min<size_t>(9, 40 - done));
    // Every running job finishes.
    for (uint64_t node = 1; node <= 3; ++node) {
      for (const auto& id : running_ids(r.store(), node)) {
        r.apply(finished_cmd(id, 1, node, ++now, 0));
        ++done;
      }
    }
  }
  EXPECT_TRUE(r.store().pending_queue().empty());
  EXPECT_EQ(r.store().finished_order().size(), 40u);
}

// Random applied states and worker views: placement takes the first eligible jobs in queue
// order, as many as free slots and max_assignments allow, never overfills a node, and
// spreads greedily.
// Jobs asking for nothing are placed from the nodes kept in the policy's order; any other job
// by looking at every node. A constraint that holds everywhere makes a job take the second
// way with the same choices to make: both must pick the same nodes, in the same order, and
// leave the cursor in the same place.
TEST(Scheduler, AJobAskingNothingGoesWhereLookingAtEveryNodeWouldPutIt) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    Replica r;
    std::vector<WorkerView> workers;
    const uint32_t nodes = 1 + pick(40);
    for (uint64_t node = 1; node <= nodes; ++node) {
      WorkerView w = worker(node, pick(4), pick(6) != 0, pick(3));
      w.queue = pick(2);
      w.finishing = pick(2);
      if (pick(2) == 0) {
        auto capacity = std::make_shared<nomad_lite::NodeCapacity>();
        capacity->set_cpu(1 + pick(4));
        capacity->set_memory_bytes(uint64_t{1 + pick(4)} << 30);
        w.capacity = capacity;
        // Sometimes more CPU in flight than the node has: it takes nothing.
        w.in_flight_usage.millicores = pick(5) * 1000;
        w.in_flight_usage.memory_bytes = uint64_t{pick(3)} << 30;
      }
      workers.push_back(w);
    }
    const PlacementPolicy policy =
        pick(2) == 0 ? PlacementPolicy::kSpread : PlacementPolicy::kBinpack;
    std::vector<NewJob> plain, constrained;
    const uint32_t jobs = 1 + pick(60);
    for (uint32_t i = 0; i < jobs; ++i) {
      plain.push_back({"j" + std::to_string(i), {}, {}});
      constrained.push_back(plain.back());
      *constrained.back().constraints.Add() = "absent!=1";
    }
    uint64_t cursor_plain = pick(nodes + 2), cursor_constrained = cursor_plain;
    auto a = place_new_jobs(r.store(), workers, plain, &cursor_plain, policy);
    auto b = place_new_jobs(r.store(), workers, constrained, &cursor_constrained, policy);
    std::vector<uint64_t> a_nodes, b_nodes;
    for (const auto& x : a) a_nodes.push_back(x.node_id());
    for (const auto& x : b) b_nodes.push_back(x.node_id());
    EXPECT_EQ(a_nodes, b_nodes);
    EXPECT_EQ(cursor_plain, cursor_constrained);
  }
}

TEST(Scheduler, RandomStatesArePlacedWithinTheRules) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    Replica r;
    const int jobs = 1 + static_cast<int>(pick(30));
    const int64_t now = 10'000;
    for (int i = 0; i < jobs; ++i) {
      std::string id = "j" + std::to_string(i);
      r.apply(submit_cmd(id, Opt().retries(2).priority(static_cast<int32_t>(pick(3)) - 1)));
      uint32_t what = pick(6);
      uint64_t node = 1 + pick(4);
      if (what == 0) {
        r.apply(assign_cmd(id, 1, node, 0));  // running
      } else if (what == 1) {                 // waiting for a retry, or free to retry now
        r.apply(assign_cmd(id, 1, node, 0));
        r.apply(finished_cmd(id, 1, node, now - 1500 + pick(3000), 1));
      } else if (what == 2) {
        r.apply(cancel_cmd(id, 0));
      }
    }
    std::vector<WorkerView> workers;
    for (uint64_t node = 1; node <= 4; ++node) {
      if (pick(5) == 0) continue;  // never reported
      uint32_t slots = pick(5);
      bool alive = pick(4) != 0;
      uint32_t in_flight = pick(3);
      workers.push_back(worker(node, slots, alive, in_flight));
    }
    std::set<std::string> skip;
    for (const auto& [key, id] : r.store().pending_queue()) {
      if (pick(5) == 0) skip.insert(id);
    }
    size_t max = pick(4) == 0 ? pick(5) : 4096;

    const uint64_t cursor_before = pick(6);
    uint64_t cursor = cursor_before;
    Placement p = place(r.store(), workers, now, skip, max, &cursor);
    EXPECT_EQ(cursor, p.assign.empty() ? cursor_before : p.assign.back().node_id());

    std::map<uint64_t, int64_t> free;
    int64_t capacity = 0;
    for (const auto& w : workers) {
      if (!w.alive || w.slots == 0) continue;
      int64_t f =
          int64_t{w.slots} - static_cast<int64_t>(r.store().running_on(w.node_id)) - w.in_flight;
      if (f > 0) {
        free[w.node_id] = f;
        capacity += f;
      }
    }
    // The expected outcome, counted in queue order.
    std::vector<std::string> expected;
    int64_t wakeup = 0;
    for (const auto& [key, id] : r.store().pending_queue()) {
      if (static_cast<int64_t>(expected.size()) == capacity || expected.size() >= max) break;
      if (skip.count(id)) continue;
      const auto* job = r.store().find(id);
      if (job->not_before_ms() > now) {
        if (wakeup == 0 || job->not_before_ms() < wakeup) wakeup = job->not_before_ms();
        continue;
      }
      expected.push_back(id);
    }
    EXPECT_EQ(ids(p), expected);
    EXPECT_EQ(p.next_wakeup_ms, wakeup);

    std::map<uint64_t, int64_t> left = free;
    for (const auto& a : p.assign) {
      ASSERT_TRUE(free.count(a.node_id())) << "placed on node " << a.node_id();
      EXPECT_EQ(a.attempt(), static_cast<uint32_t>(r.job(a.job_id()).attempts_size()) + 1);
      --left[a.node_id()];
    }
    for (const auto& [node, f] : left) {
      EXPECT_GE(f, 0) << "node " << node;
    }
    // Greedy spreading: a node that got a job had, when it got its last one, at least as
    // many free slots as any other candidate has at the end.
    for (const auto& [node, n] : per_node(p)) {
      for (const auto& [other, f] : left) {
        EXPECT_GE(left[node] + 1, f) << node << " vs " << other;
      }
    }
  }
}

}  // namespace
}  // namespace nomad::jobs
