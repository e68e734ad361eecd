// Placement by resources and constraints on a real 3-node cluster (nomad-lite server processes
// on 127.0.0.1), each node advertising its own --cpu, --memory and --label: constrained jobs
// land only on matching nodes, a job too big for every node waits with its reason and runs
// once a node restarted with more memory has room, cluster status shows what is reserved, and
// spread and binpack distribute jobs as they say.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "cluster_harness.h"

namespace nomad::testing::resources_test {
namespace {

using nomad_lite::Job;

constexpr uint64_t kMiB = uint64_t{1} << 20;

struct ResourceCluster {
  explicit ResourceCluster(std::vector<std::vector<std::string>> node_args,
                           std::vector<std::string> extra = {})
      : c(node_args.size(), with_defaults(std::move(extra))) {
    for (size_t i = 0; i < node_args.size(); ++i) c.member(i + 1).own_args = node_args[i];
    c.start_all();
    leader = c.wait_for_leader();
    dir = c.root() + "/work";
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::all);  // jobs run as nobody
  }

  static std::vector<std::string> with_defaults(std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--worker-slots", "2", "--worker-timeout", "2s"});
    return extra;
  }

  Job submit(const std::string& command, double cpu = 0, uint64_t memory = 0,
             std::vector<std::string> constraints = {}) {
    static std::atomic<int> n{0};
    nomad_lite::SubmitJobRequest r;
    r.set_command(command);
    r.set_idempotency_key("resources-test-" + std::to_string(++n));
    if (cpu > 0) r.mutable_resources()->set_cpu(cpu);
    if (memory > 0) r.mutable_resources()->set_memory_bytes(memory);
    for (const auto& text : constraints) r.add_constraints(text);
    Job job;
    grpc::Status s = c.submit_to_leader(r, &job, 30s, leader);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return job;
  }
  std::optional<Job> wait_final(const std::string& id, std::chrono::milliseconds timeout = 30s) {
    return c.wait_for_job(
        id, [](const Job& j) { return is_final(j.status()); }, timeout);
  }
  uint64_t ran_on(const std::string& id) {
    auto j = wait_final(id);
    EXPECT_TRUE(j.has_value()) << "job " << id << " did not finish";
    if (!j) return 0;
    EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_COMPLETED) << j->error();
    return j->node_id();
  }
  // A job that runs until the test creates its file (bounded by a timeout of its own).
  std::string blocking(const std::string& name) {
    return "for i in $(seq 600); do [ -f " + dir + "/" + name +
           " ] && exit 0; sleep 0.05; done; exit 1";
  }
  void release(const std::string& name) { std::ofstream(dir + "/" + name) << "go"; }

  // Every node's capacity is in the leader's applied state (the workers reported).
  bool wait_for_capacity(size_t nodes) {
    return wait_until(
        [&] {
          leader = c.wait_for_leader();
          auto s = c.status(leader);
          if (!s) return false;
          size_t known = 0;
          for (const auto& n : s->nodes()) known += n.has_capacity() && n.capacity().cpu() > 0;
          return known == nodes;
        },
        30s);
  }
  std::optional<nomad_lite::NodeStatus> node(uint64_t id) {
    auto s = c.status(c.wait_for_leader());
    if (!s) return std::nullopt;
    for (const auto& n : s->nodes()) {
      if (n.id() == id) return n;
    }
    return std::nullopt;
  }

  TestCluster c;
  uint64_t leader = 0;
  std::string dir;
};

TEST(Resources, ConstraintsAndResourcesPickTheNodeAndABigJobWaitsForRoom) {
  ResourceCluster rc({{"--cpu", "1", "--memory", "1GiB", "--label", "zone=a"},
                      {"--cpu", "2", "--memory", "2GiB", "--label", "zone=b", "--label", "gpu=true",
                       "--node-name", "gpu-box"},
                      {"--cpu", "4", "--memory", "512MiB", "--label", "zone=c"}});
  ASSERT_TRUE(rc.wait_for_capacity(3));
  auto two = rc.node(2);
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->capacity().labels().at("gpu"), "true");
  EXPECT_EQ(two->capacity().name(), "gpu-box");
  EXPECT_EQ(two->capacity().memory_bytes(), 2048 * kMiB);
  EXPECT_EQ(two->slots(), 2u);

  std::vector<std::string> gpu, not_b;
  for (int i = 0; i < 4; ++i) gpu.push_back(rc.submit("true", 0, 0, {"gpu==true"}).id());
  for (int i = 0; i < 4; ++i) not_b.push_back(rc.submit("true", 0, 0, {"zone!=b"}).id());
  std::string big_memory = rc.submit("true", 0, 1536 * kMiB).id();
  std::string many_cores = rc.submit("true", 3).id();
  for (const auto& id : gpu) EXPECT_EQ(rc.ran_on(id), 2u);
  std::set<uint64_t> elsewhere;
  for (const auto& id : not_b) elsewhere.insert(rc.ran_on(id));
  EXPECT_EQ(elsewhere.count(2), 0u);
  EXPECT_EQ(rc.ran_on(big_memory), 2u);  // the only node with 1.5 GiB
  EXPECT_EQ(rc.ran_on(many_cores), 3u);  // the only node with 3 cores

  // Memory asked for is reserved on the node while the job runs.
  std::string hold = rc.submit(rc.blocking("hold"), 0.5, 256 * kMiB, {"zone==a"}).id();
  ASSERT_TRUE(rc.c.wait_for_job(
      hold, [](const Job& j) { return j.status() == nomad_lite::JOB_STATUS_RUNNING; }));
  ASSERT_TRUE(wait_until(
      [&] {
        auto one = rc.node(1);
        return one && one->reserved().memory_bytes() == 256 * kMiB && one->reserved().cpu() == 0.5;
      },
      10s));
  RunResult table = rc.c.cli({"cluster", "status"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("CPU USED/TOTAL"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("0.5/1"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("256 MiB/1 GiB"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("gpu=true,zone=b"), std::string::npos) << table.out;
  rc.release("hold");
  EXPECT_EQ(rc.ran_on(hold), 1u);

  // No node has the label, none has the cores with it, none has 4 GiB: pending, saying why.
  std::string no_label = rc.submit("true", 0, 0, {"ssd==true"}).id();
  std::string too_many = rc.submit("true", 3, 0, {"gpu==true"}).id();
  std::string huge = rc.submit("true", 0, 4096 * kMiB).id();
  auto reason_of = [&](const std::string& id, const std::string& part) {
    return rc.c.wait_for_job(id, [&](const Job& j) {
      return j.status() == nomad_lite::JOB_STATUS_PENDING &&
             j.pending_reason().find(part) != std::string::npos;
    });
  };
  EXPECT_TRUE(reason_of(no_label, "no node with label ssd=true"));
  EXPECT_TRUE(reason_of(too_many, "needs 3 cores, more than any node matching its constraints"));
  auto waiting = reason_of(huge, "needs 4 GiB memory, more than any node has");
  ASSERT_TRUE(waiting) << "job " << huge;
  RunResult shown = rc.c.cli({"job", "status", huge});
  EXPECT_NE(shown.out.find("Memory"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("4 GiB"), std::string::npos) << shown.out;

  // Node 1 comes back with 8 GiB: the waiting job runs there.
  rc.c.kill(1, SIGKILL);
  rc.c.member(1).own_args = {"--cpu", "1", "--memory", "8GiB", "--label", "zone=a"};
  rc.c.start(1);
  EXPECT_EQ(rc.ran_on(huge), 1u);
  // The others still wait.
  auto still = rc.c.job_anywhere(no_label);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status(), nomad_lite::JOB_STATUS_PENDING);
}

// Three equal nodes; three jobs that run until released: spread puts one on each node,
// binpack all on one.
std::map<uint64_t, int> distribution(const std::string& placement) {
  std::vector<std::string> node = {"--cpu", "4", "--memory", "4GiB"};
  ResourceCluster rc({node, node, node}, {"--placement", placement});
  EXPECT_TRUE(rc.wait_for_capacity(3));
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) ids.push_back(rc.submit(rc.blocking("go"), 1, 256 * kMiB).id());
  std::map<uint64_t, int> out;
  for (const auto& id : ids) {
    auto j = rc.c.wait_for_job(id, [](const Job& j) {
      return j.status() == nomad_lite::JOB_STATUS_RUNNING && j.node_id() != 0;
    });
    EXPECT_TRUE(j.has_value()) << "job " << id << " never ran";
    if (j) ++out[j->node_id()];
  }
  rc.release("go");
  for (const auto& id : ids) rc.wait_final(id);
  return out;
}

TEST(Resources, SpreadPutsJobsOnDifferentNodesAndBinpackOnOne) {
  auto spread = distribution("spread");
  EXPECT_EQ(spread.size(), 2u);
  auto binpack = distribution("binpack");
  ASSERT_EQ(binpack.size(), 1u);
  EXPECT_EQ(binpack.begin()->second, 2);
}

}  // namespace
}  // namespace nomad::testing::resources_test
