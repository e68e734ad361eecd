// Draining a node of a real 3-node cluster (nomad-lite server processes on 127.0.0.1): no new
// job goes to it, the jobs it runs finish there, the one still running at the deadline is run
// again elsewhere (reason "drained", no retry used), the leader killed mid-drain does not end
// the drain (its successor enforces the deadline), and `node drain` reports the node empty.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "cluster_harness.h"

namespace nomad::testing {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace drain_test {

using nomad_lite::Job;

struct DrainCluster {
  DrainCluster()
      : c(3, {"--worker-slots", "2", "--worker-timeout", "2s", "--kill-grace", "500ms"}) {
    c.start_all();
    leader = c.wait_for_leader();
    dir = c.root() + "/work";
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::all);  // jobs run as nobody
  }

  Job submit(const std::string& command, uint32_t retries = 0, uint32_t lost_retries = 3) {
    static std::atomic<int> n{0};
    nomad_lite::SubmitJobRequest r;
    r.set_command(command);
    r.set_retries(retries);
    r.set_lost_retries(lost_retries);
    r.set_idempotency_key("drain-test-" + std::to_string(++n));
    Job job;
    grpc::Status s = c.submit_to_leader(r, &job, 30s, leader);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return job;
  }
  std::optional<Job> wait_final(const std::string& id, std::chrono::milliseconds timeout = 30s) {
    return c.wait_for_job(
        id, [](const Job& j) { return is_final(j.status()); }, timeout);
  }
  std::optional<Job> wait_started(const std::string& id) {
    return c.wait_for_job(id, [](const Job& j) {
      return j.status() == nomad_lite::JOB_STATUS_RUNNING && j.attempts_size() > 0 &&
             j.attempts(j.attempts_size() - 1).started_at_ms() != 0;
    });
  }
  // Short jobs until every node ran one: the leader has heard from every worker.
  bool wait_for_workers() {
    std::set<uint64_t> ran;
    return wait_until(
        [&] {
          auto j = wait_final(submit("true").id());
          if (j && j->attempts_size() > 0) ran.insert(j->attempts(0).node_id());
          return ran.size() == 3;
        },
        30s);
  }
  // The node as `asked` reports it in its cluster status.
  std::optional<nomad_lite::NodeStatus> node(uint64_t asked, uint64_t id) {
    auto s = c.status(asked);
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

std::string describe(const Job& j) {
  std::string s = "job " + j.id() + " status " + std::to_string(j.status()) + " attempts:";
  for (const auto& a : j.attempts()) {
    s += " [#" + std::to_string(a.number()) + " node " + std::to_string(a.node_id()) + " status " +
         std::to_string(a.status()) + " reason '" + a.reason() + "']";
  }
  return s;
}

TEST(Drain, ADrainedNodeFinishesItsJobsRerunsTheRestAtTheDeadlineAndSurvivesTheLeadersDeath) {
  DrainCluster dc;
  ASSERT_NE(dc.leader, 0u);
  ASSERT_TRUE(dc.wait_for_workers()) << "logs in " << dc.c.root();
  const uint64_t drained = dc.leader == 1 ? 2 : 1;  // a follower: it outlives the leader
  std::vector<uint64_t> others;
  for (uint64_t id : dc.c.ids()) {
    if (id != drained) others.push_back(id);
  }

  // Both of the node's slots filled: the other nodes are made ineligible meanwhile, which
  // also shows eligibility off at work.
  for (uint64_t id : others) {
    auto r = dc.c.cli({"node", "eligibility", std::to_string(id), "off"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("ineligible"), std::string::npos) << r.out;
  }
  const std::string marker = "60.4343";
  Job finishing = dc.submit("sleep 5; echo finished", /*retries=*/0, /*lost_retries=*/0);
  Job lingering = dc.submit("if [ -e " + dc.dir + "/again ]; then echo rerun; else touch " +
                                dc.dir + "/again; exec sleep " + marker + "; fi",
                            /*retries=*/0, /*lost_retries=*/0);
  for (const Job& j : {finishing, lingering}) {
    auto started = dc.wait_started(j.id());
    ASSERT_TRUE(started) << "logs in " << dc.c.root();
    ASSERT_EQ(started->attempts(0).node_id(), drained) << describe(*started);
  }
  for (uint64_t id : others) {
    auto r = dc.c.cli({"node", "eligibility", std::to_string(id), "on"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  // The drain, waited for by the CLI in the background.
  const auto drain_began = std::chrono::steady_clock::now();
  RunResult drain_cli;
  struct Joiner {
    std::thread t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } waiter;
  waiter.t = std::thread([&] {
    drain_cli = dc.c.cli({"node", "drain", std::to_string(drained), "--deadline", "12s"}, {}, 60s);
  });
  ASSERT_TRUE(wait_until(
      [&] {
        auto n = dc.node(drained, drained);
        return n && n->scheduling().draining();
      },
      10s))
      << "the drain never showed in node " << drained << "'s own cluster status";

  // New jobs go elsewhere.
  std::vector<std::string> later;
  for (int i = 0; i < 4; ++i) later.push_back(dc.submit("sleep 1").id());
  for (const auto& id : later) {
    auto j = dc.wait_started(id);
    ASSERT_TRUE(j) << "logs in " << dc.c.root();
    EXPECT_NE(j->attempts(0).node_id(), drained) << describe(*j);
  }

  // The leader dies mid-drain; its successor keeps the drain and enforces the deadline.
  ASSERT_LT(std::chrono::steady_clock::now() - drain_began, 10s) << "too slow to test mid-drain";
  auto before = dc.node(dc.leader, drained);
  ASSERT_TRUE(before);
  const int64_t deadline_ms = before->scheduling().drain_deadline_ms();
  ASSERT_NE(deadline_ms, 0);
  dc.c.kill(dc.leader, SIGKILL);
  uint64_t successor = dc.c.wait_for_leader(15s, dc.leader);
  ASSERT_NE(successor, 0u) << "no new leader; logs in " << dc.c.root();
  auto still = dc.node(successor, drained);
  ASSERT_TRUE(still);
  EXPECT_TRUE(still->scheduling().draining()) << "the new leader forgot the drain";

  auto f = dc.wait_final(finishing.id());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*f);
  EXPECT_EQ(f->attempts_size(), 1)
      << "a job that ended before the deadline ran once: " << describe(*f);
  EXPECT_EQ(f->attempts(0).node_id(), drained);

  auto l = dc.wait_final(lingering.id(), 40s);
  ASSERT_TRUE(l) << "logs in " << dc.c.root();
  EXPECT_EQ(l->status(), nomad_lite::JOB_STATUS_COMPLETED)
      << "retries 0 and lost_retries 0: the drained attempt used none; " << describe(*l);
  ASSERT_EQ(l->attempts_size(), 2) << describe(*l);
  EXPECT_EQ(l->attempts(0).node_id(), drained);
  EXPECT_EQ(l->attempts(0).reason(), "drained");
  EXPECT_GE(l->attempts(0).finished_at_ms(), deadline_ms) << "ended before the deadline";
  EXPECT_NE(l->attempts(1).node_id(), drained);
  EXPECT_EQ(l->stdout_tail(), "rerun\n");
  EXPECT_TRUE(wait_until([&] { return processes_with(marker).empty(); }, 10s))
      << "the drained attempt's process lives on";

  // The node is empty, and stays out of placement.
  ASSERT_TRUE(wait_until(
      [&] {
        auto n = dc.node(successor, drained);
        return n && n->scheduling().drained_at_ms() != 0 && !n->scheduling().draining();
      },
      15s));
  auto n = dc.node(successor, drained);
  EXPECT_EQ(n->running_jobs(), 0u);
  EXPECT_TRUE(n->scheduling().ineligible());
  waiter.t.join();
  EXPECT_EQ(drain_cli.exit_code, 0) << drain_cli.out << drain_cli.err;
  EXPECT_NE(drain_cli.out.find("is drained"), std::string::npos) << drain_cli.out;
  EXPECT_NE(drain_cli.out.find("draining, 2 jobs running"), std::string::npos)
      << "progress: " << drain_cli.out;
  for (int i = 0; i < 3; ++i) {
    auto j = dc.wait_final(dc.submit("true").id());
    ASSERT_TRUE(j);
    EXPECT_NE(j->attempts(0).node_id(), drained) << describe(*j);
  }

  // Eligible again: it runs jobs. With one other node, the drained node takes some of four.
  auto on = dc.c.cli({"node", "eligibility", std::to_string(drained), "on"});
  ASSERT_EQ(on.exit_code, 0) << on.out << on.err;
  std::set<uint64_t> used;
  ASSERT_TRUE(wait_until(
      [&] {
        std::vector<std::string> batch;
        for (int i = 0; i < 4; ++i) batch.push_back(dc.submit("sleep 0.5").id());
        for (const auto& id : batch) {
          auto j = dc.wait_final(id);
          if (j && j->attempts_size() > 0) used.insert(j->attempts(0).node_id());
        }
        return used.count(drained) > 0;
      },
      30s));
}

TEST(Drain, WithNoEligibleNodeLeftAJobWaitsWithAReason) {
  DrainCluster dc;
  ASSERT_NE(dc.leader, 0u);
  ASSERT_TRUE(dc.wait_for_workers());
  for (uint64_t id : dc.c.ids()) {
    auto r = dc.c.cli({"node", "drain", std::to_string(id), "--detach"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  Job job = dc.submit("true");
  std::optional<Job> seen;
  ASSERT_TRUE(wait_until(
      [&] {
        auto got = dc.c.job(dc.leader, job.id());
        seen = got;
        return got && got->pending_reason().find("no eligible node") != std::string::npos;
      },
      10s))
      << (seen ? seen->pending_reason() : "no job");
  EXPECT_EQ(seen->status(), nomad_lite::JOB_STATUS_PENDING);
  auto r = dc.c.cli({"node", "drain", "2", "--cancel"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto done = dc.wait_final(job.id());
  ASSERT_TRUE(done);
  EXPECT_EQ(done->attempts(0).node_id(), 2u);
}

TEST(Drain, BadRequestsGetClearErrors) {
  TestCluster c(1);
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);
  auto r = c.cli({"node", "drain", "9"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no node 9 in the cluster"), std::string::npos) << r.err;
  r = c.cli({"node", "drain", "x1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'x1' is not a node id"), std::string::npos) << r.err;
  r = c.cli({"node", "eligibility", "1", "maybe"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("say on or off"), std::string::npos) << r.err;
  r = c.cli({"node", "drain", "1", "--deadline", "5m", "--no-deadline"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Drain, OnlyTheOperatorRoleDrainsWhenTokensAreOn) {
  TestCluster c(1);
  if (!c.secure()) c.enable_security(/*export_to_cli=*/false);  // NOMAD_TEST_SECURE did it
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);
  const std::string pki = c.pki_dir();
  auto call = [&](const std::string& role) {
    auto stub = nomad_lite::SchedulerService::NewStub(
        grpc::CreateChannel(c.member(1).address(),
                            TestCluster::tls_credentials(pki + "/ca.pem", pki + "/client.pem",
                                                         pki + "/client-key.pem", c.token(role))));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    ctx.set_wait_for_ready(true);
    nomad_lite::SetNodeEligibilityRequest request;
    request.set_node_id(1);
    request.set_eligible(false);
    nomad_lite::NodeSchedulingResponse response;
    grpc::Status status = stub->SetNodeEligibility(&ctx, request, &response);
    return std::make_pair(status, response);
  };
  auto [denied, nothing] = call("submit");
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
  auto [allowed, answer] = call("operator");
  ASSERT_TRUE(allowed.ok()) << allowed.error_message();
  EXPECT_TRUE(answer.node().ineligible());
}

}  // namespace drain_test
}  // namespace nomad::testing
