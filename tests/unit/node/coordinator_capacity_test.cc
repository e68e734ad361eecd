// The leader's coordinator and node capacity: what workers report is replicated only when it
// changes, and placement reserves the resources of assignments still in flight.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "node/coordinator.h"
#include "support/job_commands.h"

namespace nomad::node::capacity_test {
namespace {

using jobs::testing::submit_cmd;
using Commands = std::vector<nomad_lite::Command>;

constexpr uint64_t kGiB = uint64_t{1} << 30;

Coordinator::Clock::time_point at(int64_t ms) {
  return Coordinator::Clock::time_point{} + std::chrono::milliseconds(ms);
}

nomad_lite::NodeCapacity capacity(double cpu, uint64_t memory, const std::string& zone = "") {
  nomad_lite::NodeCapacity c;
  c.set_cpu(cpu);
  c.set_memory_bytes(memory);
  if (!zone.empty()) (*c.mutable_labels())["zone"] = zone;
  return c;
}

nomad_lite::Command memory_job(const std::string& id, uint64_t memory) {
  nomad_lite::Command c = submit_cmd(id);
  c.mutable_submit()->mutable_job()->mutable_resources()->set_memory_bytes(memory);
  return c;
}

class CoordinatorCapacityTest : public ::testing::Test {
 protected:
  void lead(jobs::PlacementPolicy policy = jobs::PlacementPolicy::kSpread) {
    Coordinator::Options o;
    o.self = 1;
    o.nodes = {1, 2};
    o.queue_per_slot = 0;
    o.placement = policy;
    coord_ = std::make_unique<Coordinator>(o);
    coord_->become_leader(at(0));
  }
  void commit(const Commands& cmds) {
    for (const auto& c : cmds) {
      store_.apply(raft::Entry{1, ++index_, raft::EntryType::kNormal, c.SerializeAsString()});
    }
    coord_->on_applied(store_, store_.take_changes());
  }
  void report(uint64_t node, const nomad_lite::NodeCapacity& cap, int64_t ms) {
    nomad_lite::WorkerReport r;
    r.set_node_id(node);
    r.set_slots(4);
    *r.mutable_capacity() = cap;
    coord_->on_report(store_, r, at(ms));
  }
  Commands collect(int64_t ms) { return coord_->collect(store_, at(ms), 1'700'000'000'000 + ms); }

  static int capacity_entries(const Commands& cmds) {
    int n = 0;
    for (const auto& c : cmds) {
      for (const auto& s : c.updates().slots()) n += s.has_capacity();
    }
    return n;
  }
  static std::vector<std::pair<std::string, uint64_t>> assigns(const Commands& cmds) {
    std::vector<std::pair<std::string, uint64_t>> out;
    for (const auto& c : cmds) {
      for (const auto& a : c.updates().assign()) out.emplace_back(a.job_id(), a.node_id());
    }
    return out;
  }

  jobs::JobStore store_;
  raft::Index index_ = 0;
  std::unique_ptr<Coordinator> coord_;
};

TEST_F(CoordinatorCapacityTest, CapacityIsReplicatedOnceAndAgainOnlyWhenItChanges) {
  lead();
  report(1, capacity(2, 4 * kGiB, "eu"), 0);
  Commands first = collect(0);
  EXPECT_EQ(capacity_entries(first), 1);
  // Reported again before the entry applied: not proposed twice.
  report(1, capacity(2, 4 * kGiB, "eu"), 10);
  EXPECT_EQ(capacity_entries(collect(10)), 0);
  commit(first);
  ASSERT_NE(store_.capacity_of(1), nullptr);
  EXPECT_EQ(store_.capacity_of(1)->labels().at("zone"), "eu");
  for (int ms = 20; ms < 200; ms += 20) {
    report(1, capacity(2, 4 * kGiB, "eu"), ms);
    EXPECT_EQ(capacity_entries(collect(ms)), 0) << "at " << ms << " ms";
  }
  // Relabelled (a restart with other flags): proposed once more.
  report(1, capacity(2, 8 * kGiB, "us"), 300);
  Commands changed = collect(300);
  EXPECT_EQ(capacity_entries(changed), 1);
  commit(changed);
  EXPECT_EQ(store_.capacity_of(1)->memory_bytes(), 8 * kGiB);

  // A new leader proposes nothing the log already holds.
  lead();
  report(1, capacity(2, 8 * kGiB, "us"), 400);
  EXPECT_EQ(capacity_entries(collect(400)), 0);
}

TEST_F(CoordinatorCapacityTest, PlacesByTheReportedCapacity) {
  lead();
  report(1, capacity(2, kGiB), 0);
  report(2, capacity(2, 4 * kGiB), 0);
  commit(collect(0));
  commit({memory_job("j", 2 * kGiB)});
  EXPECT_EQ(assigns(collect(10)), (std::vector<std::pair<std::string, uint64_t>>{{"j", 2}}));
}

TEST_F(CoordinatorCapacityTest, AnAssignmentInFlightWithItsSubmissionReservesItsMemory) {
  lead();
  report(1, capacity(2, 4 * kGiB), 0);
  report(2, capacity(2, 4 * kGiB), 0);
  commit(collect(0));
  Coordinator::Submitted a;
  a.job_id = "a";
  a.resources.set_memory_bytes(3 * kGiB);
  auto placed = coord_->place_submitted(store_, {a}, at(10), 0);
  ASSERT_TRUE(placed.has_value());
  uint64_t node = placed->updates().assign(0).node_id();
  // Neither a's submission nor its assignment has applied: b must not count on that memory.
  commit({memory_job("b", 3 * kGiB)});
  auto b = assigns(collect(20));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(b[0].second, node);
}

TEST_F(CoordinatorCapacityTest, BinpackFillsTheFullerNode) {
  lead(jobs::PlacementPolicy::kBinpack);
  report(1, capacity(4, 8 * kGiB), 0);
  report(2, capacity(4, 8 * kGiB), 0);
  commit(collect(0));
  for (int i = 0; i < 3; ++i) commit({memory_job("j" + std::to_string(i), kGiB)});
  auto placed = assigns(collect(10));
  ASSERT_EQ(placed.size(), 3u);
  EXPECT_EQ(placed[0].second, placed[1].second);
  EXPECT_EQ(placed[1].second, placed[2].second);
}

}  // namespace
}  // namespace nomad::node::capacity_test
