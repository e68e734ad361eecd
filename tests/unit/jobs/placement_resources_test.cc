// Placement by CPU, memory and node-label constraints (README "Resources and constraints"):
// what fits where, spread and binpack, the reasons a pending job gives, and the replicated
// capacity of each node.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "jobs/resources.h"
#include "jobs/scheduler.h"
#include "support/job_commands.h"

namespace nomad::jobs::resources_test {
namespace {

using namespace nomad::jobs::testing;  // NOLINT

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMiB = uint64_t{1} << 20;

nomad_lite::NodeCapacity capacity(double cpu, uint64_t memory,
                                  std::map<std::string, std::string> labels = {}) {
  nomad_lite::NodeCapacity c;
  c.set_cpu(cpu);
  c.set_memory_bytes(memory);
  for (const auto& [k, v] : labels) (*c.mutable_labels())[k] = v;
  return c;
}

WorkerView worker(uint64_t id, uint32_t slots, const nomad_lite::NodeCapacity& cap) {
  WorkerView w;
  w.node_id = id;
  w.slots = slots;
  w.alive = true;
  w.capacity = std::make_shared<const nomad_lite::NodeCapacity>(cap);
  return w;
}

nomad_lite::Command job_cmd(const std::string& id, double cpu, uint64_t memory,
                            std::vector<std::string> constraints = {}, const Opt& o = Opt()) {
  nomad_lite::Command c = submit_cmd(id, o);
  auto* job = c.mutable_submit()->mutable_job();
  if (cpu > 0) job->mutable_resources()->set_cpu(cpu);
  if (memory > 0) job->mutable_resources()->set_memory_bytes(memory);
  for (auto& text : constraints) job->add_constraints(text);
  return c;
}

// The leader replicating what the workers reported: slots and capacity per node.
nomad_lite::Command capacity_cmd(
    const std::vector<std::pair<uint64_t, nomad_lite::NodeCapacity>>& nodes, uint32_t slots = 4) {
  nomad_lite::Command c;
  for (const auto& [node, cap] : nodes) {
    auto* s = c.mutable_updates()->add_slots();
    s->set_node_id(node);
    s->set_slots(slots);
    *s->mutable_capacity() = cap;
  }
  return c;
}

std::map<std::string, uint64_t> where(const Placement& p) {
  std::map<std::string, uint64_t> out;
  for (const auto& a : p.assign) out[a.job_id()] = a.node_id();
  return out;
}

void apply_placement(Replica& r, const Placement& p) {
  nomad_lite::Command c;
  for (const auto& a : p.assign) *c.mutable_updates()->add_assign() = a;
  r.apply(c);
}

TEST(PlacementResources, AJobGoesOnlyWhereItsCpuAndMemoryAreFree) {
  Replica r;
  r.apply(job_cmd("cpu3", 3, 0));
  r.apply(job_cmd("mem6g", 0, 6 * kGiB));
  std::vector<WorkerView> workers{worker(1, 8, capacity(2, 16 * kGiB)),
                                  worker(2, 8, capacity(4, 4 * kGiB)),
                                  worker(3, 8, capacity(8, 8 * kGiB))};
  auto placed = where(place(r.store(), workers, 0, {}));
  // 3 cores: nodes 2 and 3; 6 GiB: nodes 1 and 3. Each lands where it fits.
  EXPECT_TRUE(placed.at("cpu3") == 2 || placed.at("cpu3") == 3);
  EXPECT_TRUE(placed.at("mem6g") == 1 || placed.at("mem6g") == 3);
}

TEST(PlacementResources, RoomShrinksWithEachJobPlacedInTheSamePass) {
  Replica r;
  for (int i = 1; i <= 3; ++i) r.apply(job_cmd("j" + std::to_string(i), 0, kGiB));
  Placement p = place(r.store(), {worker(1, 8, capacity(4, 2 * kGiB))}, 0, {});
  EXPECT_EQ(p.assign.size(), 2u);  // the third would need a third GiB
}

TEST(PlacementResources, RunningAttemptsReserveTheirResourcesUntilTheyFinish) {
  Replica r;
  r.apply(capacity_cmd({{1, capacity(4, 4 * kGiB)}}));
  r.apply(job_cmd("big", 1, 3 * kGiB));
  r.apply(assign_cmd("big", 1, 1, 0));
  EXPECT_EQ(r.store().reserved_on(1).memory_bytes, 3 * kGiB);
  EXPECT_EQ(r.store().reserved_on(1).millicores, 1000);
  r.apply(job_cmd("next", 0, 2 * kGiB));
  const auto workers = std::vector<WorkerView>{worker(1, 4, capacity(4, 4 * kGiB))};
  EXPECT_TRUE(place(r.store(), workers, 0, {}).assign.empty());
  EXPECT_EQ(r.store().pending_reason(r.job("next"), 0),
            "needs 2 GiB memory, at most 1 GiB free on any node");
  r.apply(finished_cmd("big", 1, 1, 0, 0));
  EXPECT_EQ(r.store().reserved_on(1).memory_bytes, 0u);
  EXPECT_EQ(where(place(r.store(), workers, 0, {})).at("next"), 1u);
}

TEST(PlacementResources, InFlightAssignmentsReserveAndFinishingAttemptsRelease) {
  Replica r;
  r.apply(job_cmd("j", 0, 2 * kGiB));
  WorkerView w = worker(1, 4, capacity(4, 4 * kGiB));
  w.in_flight = 1;
  w.in_flight_usage.memory_bytes = 3 * kGiB;
  EXPECT_TRUE(place(r.store(), {w}, 0, {}).assign.empty());

  // A running attempt of 3 GiB whose finish is in flight: its memory is free already.
  Replica r2;
  r2.apply(job_cmd("old", 0, 3 * kGiB));
  r2.apply(assign_cmd("old", 1, 1, 0));
  r2.apply(job_cmd("j", 0, 2 * kGiB));
  WorkerView f = worker(1, 4, capacity(4, 4 * kGiB));
  EXPECT_TRUE(place(r2.store(), {f}, 0, {}).assign.empty());
  f.finishing = 1;
  f.finishing_usage.memory_bytes = 3 * kGiB;
  EXPECT_EQ(where(place(r2.store(), {f}, 0, {})).at("j"), 1u);
}

TEST(PlacementResources, ConstraintsHoldOnLabelsAndAMissingLabelFailsEqualsAndPassesNotEquals) {
  Replica r;
  r.apply(job_cmd("gpu", 0, 0, {"gpu==true"}));
  r.apply(job_cmd("not-gpu", 0, 0, {"gpu!=true"}));
  r.apply(job_cmd("eu-not-gpu", 0, 0, {"zone==eu", "gpu!=true"}));
  std::vector<WorkerView> workers{worker(1, 2, capacity(4, 4 * kGiB, {{"zone", "us"}})),
                                  worker(2, 4, capacity(4, 4 * kGiB, {{"gpu", "true"}})),
                                  worker(3, 2, capacity(4, 4 * kGiB, {{"zone", "eu"}}))};
  auto placed = where(place(r.store(), workers, 0, {}));
  ASSERT_EQ(placed.size(), 3u);
  EXPECT_EQ(placed.at("gpu"), 2u);
  EXPECT_NE(placed.at("not-gpu"), 2u);  // node 1 or 3: both lack the label
  EXPECT_EQ(placed.at("eu-not-gpu"), 3u);
}

TEST(PlacementResources, PendingReasonsNameWhatNoNodeHas) {
  Replica r;
  r.apply(capacity_cmd(
      {{1, capacity(2, 4 * kGiB, {{"zone", "eu"}, {"arch", "x86"}})},
       {2, capacity(1, 2 * kGiB, {{"zone", "us"}, {"gpu", "false"}, {"arch", "x86"}})}}));
  auto reason = [&](nomad_lite::Command c) {
    std::string id = c.submit().job().id();
    r.apply(c);
    return r.store().pending_reason(r.job(id), 0);
  };
  EXPECT_EQ(reason(job_cmd("a", 0, 0, {"gpu==true"})), "no node with label gpu=true");
  EXPECT_EQ(reason(job_cmd("b", 0, 0, {"zone!=eu", "arch!=x86"})),
            "every node has label arch=x86 (constraint arch!=x86)");
  EXPECT_EQ(reason(job_cmd("c", 0, 0, {"zone==eu", "gpu==false"})),
            "no node meets all its constraints at once (zone==eu, gpu==false)");
  EXPECT_EQ(reason(job_cmd("d", 0, 64 * kGiB)),
            "needs 64 GiB memory, more than any node has (the largest has 4 GiB)");
  EXPECT_EQ(reason(job_cmd("e", 4, 0)),
            "needs 4 cores, more than any node has (the largest has 2 cores)");
  EXPECT_EQ(reason(job_cmd("f", 2, 0, {"zone==us"})),
            "needs 2 cores, more than any node matching its constraints has (the largest has 1 "
            "core)");
  // It fits node 1, which has free slots: it is about to be placed.
  EXPECT_EQ(reason(job_cmd("g", 2, 3 * kGiB)), "waiting to be placed");
  // A plain job keeps the reasons it had.
  EXPECT_EQ(reason(submit_cmd("plain")), "waiting to be placed");
}

TEST(PlacementResources, ABusyNodeWithRoomMakesItWaitForASlot) {
  Replica r;
  r.apply(capacity_cmd({{1, capacity(4, 4 * kGiB, {{"gpu", "true"}})}, {2, capacity(4, 4 * kGiB)}},
                       /*slots=*/1));
  r.apply(submit_cmd("running"));
  r.apply(assign_cmd("running", 1, 1, 0));
  r.apply(job_cmd("gpu", 0, 0, {"gpu==true"}));
  EXPECT_EQ(r.store().pending_reason(r.job("gpu"), 0),
            "waiting for a free slot on the 1 node with room for it");
}

TEST(PlacementResources, FreeResourcesReasonSaysHowMuchIsLeft) {
  Replica r;
  r.apply(capacity_cmd({{1, capacity(2, 4 * kGiB)}, {2, capacity(2, 4 * kGiB)}}));
  r.apply(job_cmd("r1", 1.5, 2 * kGiB + kGiB / 2));
  r.apply(assign_cmd("r1", 1, 1, 0));
  r.apply(job_cmd("r2", 1, 3 * kGiB));
  r.apply(assign_cmd("r2", 1, 2, 0));
  r.apply(job_cmd("mem", 0, 2 * kGiB));
  EXPECT_EQ(r.store().pending_reason(r.job("mem"), 0),
            "needs 2 GiB memory, at most 1.5 GiB free on any node");
  r.apply(job_cmd("cpu", 1.5, 0));
  EXPECT_EQ(r.store().pending_reason(r.job("cpu"), 0),
            "needs 1.5 cores, at most 1.0 free on any node");
}

TEST(PlacementResources, SpreadPutsEqualJobsOnDifferentNodesAndBinpackFillsOneNode) {
  Replica r;
  for (int i = 1; i <= 3; ++i) r.apply(job_cmd("j" + std::to_string(i), 1, kGiB));
  std::vector<WorkerView> workers{worker(1, 4, capacity(4, 8 * kGiB)),
                                  worker(2, 4, capacity(4, 8 * kGiB)),
                                  worker(3, 4, capacity(4, 8 * kGiB))};
  std::map<uint64_t, int> spread, binpack;
  for (const auto& a : place(r.store(), workers, 0, {}).assign) ++spread[a.node_id()];
  Placement packed = place(r.store(), workers, 0, {}, 4096, nullptr, PlacementPolicy::kBinpack);
  for (const auto& a : packed.assign) ++binpack[a.node_id()];
  EXPECT_EQ(spread, (std::map<uint64_t, int>{{1, 1}, {2, 1}, {3, 1}}));
  EXPECT_EQ(binpack.size(), 1u);
  EXPECT_EQ(binpack.begin()->second, 3);
}

TEST(PlacementResources, BinpackPicksTheFullestNodeThatFitsAndSpreadTheEmptiest) {
  Replica r;
  r.apply(job_cmd("old", 0, 5 * kGiB));
  r.apply(assign_cmd("old", 1, 2, 0));
  r.apply(job_cmd("new", 0, kGiB));
  r.apply(job_cmd("huge", 0, 7 * kGiB + kGiB / 2));
  std::vector<WorkerView> workers{worker(1, 4, capacity(4, 8 * kGiB)),
                                  worker(2, 4, capacity(4, 8 * kGiB))};
  // Binpack: "new" goes to the fuller node 2, leaving node 1 whole for "huge".
  auto packed = where(place(r.store(), workers, 0, {}, 4096, nullptr, PlacementPolicy::kBinpack));
  EXPECT_EQ(packed.at("new"), 2u);
  EXPECT_EQ(packed.at("huge"), 1u);
  // Spread: "new" goes to the emptier node 1, and then "huge" fits nowhere.
  auto spread = where(place(r.store(), workers, 0, {}));
  EXPECT_EQ(spread.at("new"), 1u);
  EXPECT_EQ(spread.count("huge"), 0u);
}

TEST(PlacementResources, BinpackUsesAFreeSlotElsewhereBeforeAQueue) {
  Replica r;
  r.apply(job_cmd("a", 0, kGiB));
  r.apply(job_cmd("b", 0, kGiB));
  WorkerView w1 = worker(1, 1, capacity(4, 8 * kGiB)), w2 = worker(2, 1, capacity(4, 8 * kGiB));
  w1.queue = w2.queue = 1;
  std::map<uint64_t, int> per;
  for (const auto& a :
       place(r.store(), {w1, w2}, 0, {}, 4096, nullptr, PlacementPolicy::kBinpack).assign) {
    ++per[a.node_id()];
  }
  EXPECT_EQ(per, (std::map<uint64_t, int>{{1, 1}, {2, 1}}));
}

TEST(PlacementResources, ABigJobDoesNotBlockSmallerOnesButHoldsOneNodeForItself) {
  Replica r;
  // Two 4 GiB nodes with 3 GiB taken on each: the 4 GiB job at the head fits neither now.
  r.apply(job_cmd("busy1", 0, 3 * kGiB));
  r.apply(assign_cmd("busy1", 1, 1, 0));
  r.apply(job_cmd("busy2", 0, 3 * kGiB));
  r.apply(assign_cmd("busy2", 1, 2, 0));
  r.apply(job_cmd("big", 0, 4 * kGiB, {}, Opt().priority(10)));
  r.apply(job_cmd("small1", 0, 256 * kMiB));
  r.apply(job_cmd("small2", 0, 256 * kMiB));
  std::vector<WorkerView> workers{worker(1, 4, capacity(4, 4 * kGiB)),
                                  worker(2, 4, capacity(4, 4 * kGiB))};
  Placement p = place(r.store(), workers, 0, {});
  auto placed = where(p);
  ASSERT_EQ(placed.size(), 2u);
  EXPECT_EQ(placed.count("big"), 0u);
  // Both small jobs run, on one node: the other is held for the big one.
  EXPECT_EQ(placed.at("small1"), placed.at("small2"));
  uint64_t held = placed.at("small1") == 1 ? 2 : 1;
  apply_placement(r, p);
  // Once the held node's attempt ends, the big job gets it.
  r.apply(finished_cmd(held == 1 ? "busy1" : "busy2", 1, held, 0, 0));
  auto next = where(place(r.store(), workers, 0, {}));
  EXPECT_EQ(next.at("big"), held);
}

TEST(PlacementResources, AJobTooLargeForEveryNodeHoldsNothing) {
  Replica r;
  r.apply(job_cmd("huge", 0, 64 * kGiB));
  r.apply(job_cmd("a", 0, kGiB));
  r.apply(job_cmd("b", 0, kGiB));
  Placement p = place(r.store(), {worker(1, 4, capacity(4, 8 * kGiB))}, 0, {});
  EXPECT_EQ(p.assign.size(), 2u);
}

TEST(PlacementResources, AWorkerThatReportedNoCapacityKnowsNoLimitsAndNoLabels) {
  Replica r;
  r.apply(job_cmd("mem", 0, 64 * kGiB));
  r.apply(job_cmd("gpu", 0, 0, {"gpu==true"}));
  WorkerView w;
  w.node_id = 1;
  w.slots = 4;
  w.alive = true;
  auto placed = where(place(r.store(), {w}, 0, {}));
  EXPECT_EQ(placed.count("mem"), 1u);
  EXPECT_EQ(placed.count("gpu"), 0u);
}

TEST(PlacementResources, SubmittedJobsStopAtTheFirstThatFitsNowhere) {
  Replica r;
  std::vector<NewJob> jobs(3);
  jobs[0].id = "a";
  jobs[0].resources.set_memory_bytes(kGiB);
  jobs[1].id = "b";
  jobs[1].resources.set_memory_bytes(16 * kGiB);
  jobs[2].id = "c";
  auto out = place_new_jobs(r.store(), {worker(1, 4, capacity(4, 8 * kGiB))}, jobs);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].job_id(), "a");
}

TEST(JobStoreCapacity, ReplicatedCapacitySurvivesASnapshotAndSlotsAloneKeepIt) {
  Replica r;
  r.apply(capacity_cmd({{1, capacity(2.5, 3 * kGiB, {{"gpu", "true"}})}}));
  r.apply(slots_cmd({{1, 8}}));  // a slots change without capacity keeps the capacity
  ASSERT_NE(r.store().capacity_of(1), nullptr);
  EXPECT_EQ(r.store().capacity_of(1)->cpu(), 2.5);
  EXPECT_EQ(r.store().node_slots().at(1), 8u);
  r.apply(job_cmd("j", 0.5, kGiB));
  r.apply(assign_cmd("j", 1, 1, 0));

  JobStore copy;
  ASSERT_TRUE(copy.restore(r.store().snapshot()));
  ASSERT_NE(copy.capacity_of(1), nullptr);
  EXPECT_EQ(copy.capacity_of(1)->memory_bytes(), 3 * kGiB);
  EXPECT_EQ(copy.capacity_of(1)->labels().at("gpu"), "true");
  EXPECT_EQ(copy.node_slots().at(1), 8u);
  EXPECT_EQ(copy.reserved_on(1).millicores, 500);  // rebuilt from the jobs
  EXPECT_EQ(copy.reserved_on(1).memory_bytes, kGiB);
  EXPECT_EQ(canonical_snapshot(copy), canonical_snapshot(r.store()));
}

TEST(JobNeeds, ConstraintsParseAndBadOnesGetClearErrors) {
  Constraint c;
  ASSERT_TRUE(parse_constraint("gpu==true", &c));
  EXPECT_TRUE(c.equal);
  EXPECT_EQ(c.key, "gpu");
  EXPECT_EQ(c.value, "true");
  ASSERT_TRUE(parse_constraint("zone!=eu-1", &c));
  EXPECT_FALSE(c.equal);
  ASSERT_TRUE(parse_constraint("empty==", &c));
  EXPECT_EQ(c.value, "");
  EXPECT_NE(parse_constraint("gpu=true", &c).message().find("write KEY==VALUE or KEY!=VALUE"),
            std::string::npos);
  EXPECT_FALSE(parse_constraint("==x", &c));
  EXPECT_NE(parse_constraint("bad key==x", &c).message().find("label key"), std::string::npos);
  EXPECT_NE(parse_constraint("k==a b", &c).message().find("without spaces"), std::string::npos);
  EXPECT_FALSE(parse_constraint(std::string(64, 'k') + "==v", &c));
}

TEST(JobNeeds, ResourcesAreCheckedWithTheFieldNamed) {
  google::protobuf::RepeatedPtrField<std::string> none;
  nomad_lite::Resources r;
  EXPECT_TRUE(check_job_needs(r, none));
  r.set_cpu(-1);
  EXPECT_NE(check_job_needs(r, none, {"--cpu", "--memory", "--constraint"}).message().find("--cpu"),
            std::string::npos);
  r.set_cpu(std::numeric_limits<double>::quiet_NaN());
  EXPECT_FALSE(check_job_needs(r, none));
  r.set_cpu(std::numeric_limits<double>::infinity());
  EXPECT_FALSE(check_job_needs(r, none));
  r.set_cpu(0.0001);
  EXPECT_NE(check_job_needs(r, none).message().find("0.001"), std::string::npos);
  r.set_cpu(0.5);
  r.set_memory_bytes(100);
  EXPECT_NE(check_job_needs(r, none).message().find("at least 1MiB"), std::string::npos);
  r.set_memory_bytes(uint64_t{1} << 62);
  EXPECT_FALSE(check_job_needs(r, none));
  r.set_memory_bytes(256 * kMiB);
  EXPECT_TRUE(check_job_needs(r, none));
  google::protobuf::RepeatedPtrField<std::string> many;
  for (int i = 0; i < 17; ++i) many.Add("k" + std::to_string(i) + "==v");
  EXPECT_NE(check_job_needs(r, many).message().find("the limit is 16"), std::string::npos);
}

TEST(JobNeeds, CoresAreCountedExactly) {
  EXPECT_EQ(to_millicores(0.1) + to_millicores(0.2), to_millicores(0.3));
  EXPECT_EQ(format_cores(500), "0.5 cores");
  EXPECT_EQ(format_cores(1000), "1 core");
  EXPECT_EQ(format_cores(4000), "4 cores");
}

}  // namespace
}  // namespace nomad::jobs::resources_test
