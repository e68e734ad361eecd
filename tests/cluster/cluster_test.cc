// Multi-node behaviour with real server processes on 127.0.0.1.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "cluster_harness.h"
#include "support/temp_dir.h"

namespace nomad::testing {
namespace {

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

// Submits `count` jobs to whoever leads; returns the ids acknowledged.
std::vector<std::string> submit_many(TestCluster& c, uint64_t leader, int count,
                                     const std::string& prefix) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    nomad_lite::Job job;
    grpc::Status s = c.submit(leader, "echo " + prefix + "-" + std::to_string(i), &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (s.ok()) ids.push_back(job.id());
  }
  return ids;
}

// True once every running node lists at least `expected`.
bool all_nodes_list(TestCluster& c, const std::vector<std::string>& expected) {
  for (uint64_t id : c.ids()) {
    if (!c.running(id)) continue;
    auto listed = c.job_ids(id);
    if (!listed) return false;
    auto have = as_set(*listed);
    for (const auto& e : expected) {
      if (!have.count(e)) return false;
    }
  }
  return true;
}

TEST(Cluster, ThreeNodesElectExactlyOneLeader) {
  TestCluster c(3);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u) << "no leader agreed on; logs in " << c.root();
  int leaders = 0;
  for (uint64_t id : c.ids()) leaders += c.status(id)->role() == "leader";
  EXPECT_EQ(leaders, 1);
  auto s = c.status(leader);
  ASSERT_EQ(s->nodes_size(), 3);
  EXPECT_TRUE(wait_until([&] {
    auto st = c.status(leader);
    return st && std::all_of(st->nodes().begin(), st->nodes().end(),
                             [](const auto& n) { return n.alive(); });
  })) << "the leader does not see every node alive";
}

TEST(Cluster, FiveNodesElectExactlyOneLeader) {
  TestCluster c(5);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  int leaders = 0;
  for (uint64_t id : c.ids()) leaders += c.status(id)->role() == "leader";
  EXPECT_EQ(leaders, 1);
}

TEST(Cluster, JobsSubmittedToTheLeaderAppearOnEveryNode) {
  TestCluster c(3);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  auto ids = submit_many(c, leader, 20, "hello");
  ASSERT_EQ(ids.size(), 20u);
  EXPECT_TRUE(wait_until([&] { return all_nodes_list(c, ids); }));
}

TEST(Cluster, AFollowerRefusesWritesNamingTheLeader) {
  TestCluster c(3);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  uint64_t follower = leader == 1 ? 2 : 1;
  grpc::ClientContext ctx;
  nomad_lite::SubmitJobRequest req;
  req.set_command("echo hi");
  nomad_lite::SubmitJobResponse resp;
  grpc::Status s = c.member(follower).stub->SubmitJob(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("node " + std::to_string(leader)), std::string::npos);
  auto md = ctx.GetServerTrailingMetadata();
  auto addr = md.find("leader-addr");
  ASSERT_NE(addr, md.end());
  EXPECT_EQ(std::string(addr->second.data(), addr->second.size()), c.member(leader).address());
}

TEST(Cluster, TheCliSubmitsThroughAFollowerViaTheLeader) {
  TestCluster c(3);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  uint64_t follower = leader == 1 ? 2 : 1;
  RunResult r = run_command({NOMAD_LITE_BIN, "--addr", "http://" + c.member(follower).address(),
                             "-o", "json", "submit", "--cmd", "echo hello"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"command\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("echo hello"), std::string::npos);
  EXPECT_TRUE(wait_until([&] {
    auto listed = c.job_ids(follower);
    return listed && listed->size() == 1;
  }));
}

TEST(Cluster, KillingTheLeaderElectsANewOneAndKeepsEveryAcknowledgedJob) {
  TestCluster c(3);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  auto ids = submit_many(c, leader, 30, "before");
  c.kill(leader, SIGKILL);
  uint64_t next = c.wait_for_leader(15s, /*not_this=*/leader);
  ASSERT_NE(next, 0u) << "no new leader after the old one died; logs in " << c.root();
  EXPECT_NE(next, leader);
  auto more = submit_many(c, next, 10, "after");
  ids.insert(ids.end(), more.begin(), more.end());
  EXPECT_TRUE(wait_until([&] { return all_nodes_list(c, ids); }));

  // The old leader comes back and catches up.
  c.start(leader);
  EXPECT_TRUE(wait_until(
      [&] {
        auto listed = c.job_ids(leader);
        if (!listed) return false;
        auto have = as_set(*listed);
        return std::all_of(ids.begin(), ids.end(),
                           [&](const auto& i) { return have.count(i) > 0; });
      },
      15s))
      << "the restarted node did not catch up";
}

TEST(Cluster, AFullRestartKeepsEveryJob) {
  TestCluster c(3);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  auto ids = submit_many(c, leader, 25, "durable");
  for (uint64_t id : c.ids()) c.kill(id, SIGKILL);
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);
  EXPECT_TRUE(wait_until([&] { return all_nodes_list(c, ids); }));
}

// With frequent snapshots the leader compacts past a node that is down; that node catches up
// through InstallSnapshot, and every node recovers from snapshot + WAL after a full restart.
TEST(Cluster, SnapshotsBringALaggingNodeBackAndSurviveAFullRestart) {
  TestCluster c(3, {"--snapshot-entries", "20"});
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  uint64_t lagging = leader == 3 ? 2 : 3;
  auto ids = submit_many(c, leader, 10, "early");
  ASSERT_TRUE(wait_until([&] { return all_nodes_list(c, ids); }));
  c.kill(lagging, SIGKILL);
  auto more = submit_many(c, leader, 120, "while-down");
  ids.insert(ids.end(), more.begin(), more.end());
  ASSERT_TRUE(wait_until([&] {
    return std::filesystem::exists(c.member(leader).data_dir + "/snap") &&
           !std::filesystem::is_empty(c.member(leader).data_dir + "/snap");
  })) << "the leader never took a snapshot";
  c.start(lagging);
  EXPECT_TRUE(wait_until([&] { return all_nodes_list(c, ids); }, 20s))
      << "the lagging node did not catch up; logs in " << c.root();

  for (uint64_t id : c.ids()) c.kill(id, SIGKILL);
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);
  EXPECT_TRUE(wait_until([&] { return all_nodes_list(c, ids); }, 20s));
}

TEST(Cluster, AResubmissionWithTheSameIdempotencyKeyReturnsTheFirstJob) {
  TestCluster c(3);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  nomad_lite::Job first, second;
  ASSERT_TRUE(c.submit(leader, "echo once", &first, "key-1").ok());
  ASSERT_TRUE(c.submit(leader, "echo once", &second, "key-1").ok());
  EXPECT_EQ(first.id(), second.id());
  std::optional<std::vector<std::string>> ids;  // a loaded machine may miss one deadline
  ASSERT_TRUE(wait_until([&] { return (ids = c.job_ids(leader)).has_value(); }, 20s));
  EXPECT_EQ(ids->size(), 1u);
}

// Every submission `bench submit` counted as acknowledged is on every surviving node, even when
// the leader is killed with SIGKILL in the middle of the run.
TEST(Cluster, BenchAcknowledgedJobsSurviveKillingTheLeaderMidRun) {
  TestCluster c(3);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  std::string addrs;
  for (uint64_t id : c.ids()) addrs += (addrs.empty() ? "" : ",") + c.member(id).address();

  std::string out = c.root() + "/bench.json";
  pid_t bench = fork();
  if (bench == 0) {
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    execl(NOMAD_LITE_BIN, NOMAD_LITE_BIN, "bench", "submit", "--addr", addrs.c_str(), "--clients",
          "16", "--requests", "4000", "--duration", "40s", nullptr);
    _exit(127);
  }
  // Kill the leader once the run is well under way.
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = c.status(leader);
        return s && s->commit_index() > 400;
      },
      20s));
  c.kill(leader, SIGKILL);
  int status = 0;
  waitpid(bench, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "bench did not exit normally";

  RunResult report = run_command({"/bin/cat", out});
  auto pos = report.out.find("\"ops\":");
  ASSERT_NE(pos, std::string::npos) << report.out;
  long acknowledged = std::stol(report.out.substr(pos + 6));
  EXPECT_GT(acknowledged, 400) << report.out;

  uint64_t next = c.wait_for_leader(15s, leader);
  ASSERT_NE(next, 0u);
  for (uint64_t id : c.ids()) {
    if (!c.running(id)) continue;
    EXPECT_TRUE(wait_until(
        [&] {
          auto listed = c.job_ids(id);
          return listed && static_cast<long>(listed->size()) >= acknowledged;
        },
        20s))
        << "node " << id << " lists fewer jobs than bench acknowledged (" << acknowledged << ")";
  }
}

TEST(Server, MalformedFlagsGiveOneLineAndExitCode2) {
  auto check = [](std::vector<std::string> args, const std::string& expected) {
    args.insert(args.begin(), NOMAD_LITE_BIN);
    RunResult r = run_command(args);
    EXPECT_EQ(r.exit_code, 2) << expected << ": " << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    EXPECT_LE(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  };
  check({"server", "--node-id", "1", "--peers", "2:127.0.0.1"}, "is not a peer");
  check({"server", "--node-id", "1", "--peers", "1:127.0.0.1:5000"}, "own id");
  check({"server", "--node-id", "1", "--peers", "2:a:1,2:b:2"}, "appears twice");
}

TEST(Server, APortInUseIsAClearErrorWithExitCode2) {
  TestCluster c(1);
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);
  TempDir dir;
  RunResult r = run_command({NOMAD_LITE_BIN, "server", "--node-id", "1", "--port",
                             std::to_string(c.member(1).port), "--data-dir", dir.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot listen"), std::string::npos) << r.err;
}

TEST(Server, SigtermStopsEveryNodeOfAClusterCleanlyAndPromptly) {
  TestCluster c(3);
  c.start_all();
  uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u);
  // The peers' Raft streams into a node stay open for as long as they run: the node must end
  // them itself rather than wait out gRPC's 2 s shutdown deadline.
  c.close_clients();
  for (uint64_t id : {leader, leader % 3 + 1}) {
    auto sent = std::chrono::steady_clock::now();
    int status = c.kill(id, SIGTERM);
    auto took = std::chrono::steady_clock::now() - sent;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "node " << id << ": " << status;
    EXPECT_LT(took, 1500ms) << "node " << id;
  }
}

TEST(Server, ADataDirectoryOfAnotherNodeIsRefused) {
  TestCluster c(1);
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);
  c.kill(1, SIGTERM);
  RunResult r = run_command({NOMAD_LITE_BIN, "server", "--node-id", "7", "--port",
                             std::to_string(free_port()), "--data-dir", c.member(1).data_dir});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("belongs to node 1, not node 7"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nomad::testing
