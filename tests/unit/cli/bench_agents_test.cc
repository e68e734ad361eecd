#include "cli/bench_agents.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/process_stats.h"
#include "cli/sim_agent_jobs.h"
#include "support/cli_parse.h"

namespace nomad::cli {
namespace {

constexpr uint64_t kSimAgent = 1001;

TEST(BenchAgentsArgs, OptionsDefaultsAndServers) {
  Invocation inv =
      test_support::parse_ok({"bench", "agents", "--servers", "a:1,b:2,c:3", "--agents", "50",
                              "--count", "200", "--concurrency", "32", "--slots", "4", "--idle",
                              "2s", "--leader-pid", "77", "--connections", "5"});
  ASSERT_EQ(inv.command, Command::kBenchAgents);
  EXPECT_EQ(inv.client.addresses, (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  const BenchAgentsOptions& o = inv.bench_agents;
  EXPECT_EQ(o.agents, 50);
  EXPECT_EQ(o.count, 200u);
  EXPECT_EQ(o.concurrency, 32);
  EXPECT_EQ(o.slots, 4u);
  EXPECT_EQ(o.idle, Millis(2'000));
  EXPECT_EQ(o.leader_pid, 77);
  EXPECT_EQ(o.connections, 5);
  Invocation defaults = test_support::parse_ok({"bench", "agents", "--addr", "x:9"});
  EXPECT_EQ(defaults.client.addresses, (std::vector<std::string>{"x:9"}));
  EXPECT_EQ(defaults.bench_agents.agents, 1000);
  EXPECT_EQ(defaults.bench_agents.idle, Millis(10'000));
  EXPECT_EQ(defaults.bench_agents.leader_pid, 0);
  test_support::expect_usage_error({"bench", "agents", "--agents", "0"}, "--agents");
  test_support::expect_usage_error({"bench", "agents", "--concurrency", "0"}, "--concurrency");
  test_support::expect_usage_error({"bench", "agents", "--idle", "soon"}, "--idle");
  test_support::expect_usage_error({"bench", "agents", "--servers", "a:1,,b:2"},
                                   "--servers: empty address");
}

nomad_lite::Job sim_running_job(const std::string& id, uint32_t attempt, uint64_t node) {
  nomad_lite::Job job;
  job.set_id(id);
  job.set_status(nomad_lite::JOB_STATUS_RUNNING);
  job.set_idempotency_key("run-" + id.substr(1));
  for (uint32_t n = 1; n <= attempt; ++n) {
    auto* a = job.add_attempts();
    a->set_number(n);
    a->set_node_id(node);
    if (n < attempt) a->set_finished_at_ms(5);
  }
  return job;
}

nomad_lite::WorkerReport sim_owed(const SimAgentJobs& jobs) {
  nomad_lite::WorkerReport report;
  jobs.add_owed(&report);
  return report;
}

TEST(SimAgentJobs, AnAttemptPlacedHereIsOwedAsFinishedUntilAnUpdateShowsItApplied) {
  SimAgentJobs jobs(kSimAgent);
  nomad_lite::AgentUpdate update;
  update.set_full(true);
  *update.add_jobs() = sim_running_job("j7", 1, kSimAgent);
  *update.add_jobs() = sim_running_job("j8", 1, kSimAgent + 1);  // another agent's: not ours
  auto changes = jobs.apply(update, 1234);
  ASSERT_EQ(changes.placed.size(), 1u);
  EXPECT_EQ(changes.placed[0]->id(), "j7");
  EXPECT_TRUE(changes.finished.empty());
  auto report = sim_owed(jobs);
  ASSERT_EQ(report.finished_size(), 1);
  const auto& f = report.finished(0);
  EXPECT_EQ(f.job_id(), "j7");
  EXPECT_EQ(f.attempt(), 1u);
  EXPECT_EQ(f.node_id(), kSimAgent);
  EXPECT_EQ(f.exit_code(), 0);
  EXPECT_EQ(f.started_at_ms(), 1234);
  EXPECT_EQ(f.at_ms(), 1234);

  // The same attempt again (another change to the job): still owed once, not placed again.
  update.Clear();
  *update.add_jobs() = sim_running_job("j7", 1, kSimAgent);
  EXPECT_TRUE(jobs.apply(update, 2000).placed.empty());
  EXPECT_EQ(sim_owed(jobs).finished_size(), 1);
  EXPECT_EQ(sim_owed(jobs).finished(0).at_ms(), 1234);

  // The finish applied: the job is completed; nothing is owed any more.
  update.Clear();
  auto done = sim_running_job("j7", 1, kSimAgent);
  done.set_status(nomad_lite::JOB_STATUS_COMPLETED);
  *update.add_jobs() = done;
  changes = jobs.apply(update, 2100);
  ASSERT_EQ(changes.finished.size(), 1u);
  EXPECT_EQ(changes.finished[0]->id(), "j7");
  EXPECT_EQ(jobs.owed(), 0u);
}

TEST(SimAgentJobs, AMovedAttemptANewAttemptAndRemovedJobs) {
  SimAgentJobs jobs(kSimAgent);
  nomad_lite::AgentUpdate update;
  *update.add_jobs() = sim_running_job("j1", 1, kSimAgent);
  *update.add_jobs() = sim_running_job("j2", 1, kSimAgent);
  *update.add_jobs() = sim_running_job("j3", 1, kSimAgent);
  EXPECT_EQ(jobs.apply(update, 10).placed.size(), 3u);
  update.Clear();
  *update.add_jobs() = sim_running_job("j1", 2, kSimAgent + 5);  // re-run elsewhere: not ours now
  *update.add_jobs() = sim_running_job("j2", 2, kSimAgent);      // a new attempt here: owed anew
  update.add_removed("j3");
  auto changes = jobs.apply(update, 20);
  ASSERT_EQ(changes.placed.size(), 1u);
  EXPECT_EQ(changes.placed[0]->id(), "j2");
  auto report = sim_owed(jobs);
  ASSERT_EQ(report.finished_size(), 1);
  EXPECT_EQ(report.finished(0).job_id(), "j2");
  EXPECT_EQ(report.finished(0).attempt(), 2u);

  // A full update (a new leader's first) lists every job with an attempt here: others go.
  update.Clear();
  update.set_full(true);
  *update.add_jobs() = sim_running_job("j9", 1, kSimAgent);
  jobs.apply(update, 30);
  report = sim_owed(jobs);
  ASSERT_EQ(report.finished_size(), 1);
  EXPECT_EQ(report.finished(0).job_id(), "j9");
}

TEST(SimAgentJobs, TheRunsSequenceFromTheIdempotencyKey) {
  nomad_lite::Job job;
  job.set_idempotency_key("abc-42");
  EXPECT_EQ(bench_job_sequence(job, "abc"), 42u);
  EXPECT_EQ(bench_job_sequence(job, "ab"), 0u);
  EXPECT_EQ(bench_job_sequence(job, "xyz"), 0u);
  job.set_idempotency_key("abc-42x");
  EXPECT_EQ(bench_job_sequence(job, "abc"), 0u);
  job.set_idempotency_key("abc-");
  EXPECT_EQ(bench_job_sequence(job, "abc"), 0u);
}

TEST(ProcessStats, ThisProcessAndItsListeningSocket) {
  auto sample = sample_process(getpid());
  ASSERT_TRUE(sample);
  EXPECT_GT(sample->rss_bytes, 1u << 20);
  EXPECT_GE(sample->cpu_seconds, 0.0);
  EXPECT_FALSE(sample_process(0));

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  int port = ntohs(address.sin_port);
  EXPECT_EQ(find_listening_pid(port), 0);  // bound, not listening
  ASSERT_EQ(listen(fd, 1), 0);
  EXPECT_EQ(find_listening_pid(port), getpid());
  close(fd);
  EXPECT_EQ(find_listening_pid(0), 0);
}

TEST(ProcessStats, AddressesPortsAndLoopback) {
  EXPECT_EQ(address_port("127.0.0.1:50051"), 50051);
  EXPECT_EQ(address_port("[::1]:7"), 7);
  EXPECT_EQ(address_port("host"), 0);
  EXPECT_EQ(address_port("host:99999"), 0);
  EXPECT_EQ(address_port("host:12a"), 0);
  EXPECT_TRUE(is_loopback_host("127.0.0.1:1"));
  EXPECT_TRUE(is_loopback_host("127.3.2.1:1"));
  EXPECT_TRUE(is_loopback_host("localhost:1"));
  EXPECT_TRUE(is_loopback_host("[::1]:1"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1:1"));
  EXPECT_FALSE(is_loopback_host("node1.example:1"));
}

TEST(BenchAgentsJson, FiguresAndNullsWhenTheLeaderIsNotMeasured) {
  AgentsBenchReport r;
  r.agents = r.registered = r.connected = 100;
  r.jobs = r.submitted = r.placed = r.finished = 1000;
  r.placed_seconds = 0.5;
  r.finished_seconds = 1.0;
  for (uint32_t i = 1; i <= 1000; ++i) r.latencies_us.push_back(i * 100);  // 0.1..100 ms
  r.leader_pid_from = "none";
  auto blind = bench_agents_json(r);
  EXPECT_EQ(blind["placed_per_sec"], 2000.0);
  EXPECT_EQ(blind["finished_per_sec"], 1000.0);
  EXPECT_EQ(blind["p50_ms"], 50.0);
  EXPECT_EQ(blind["p99_ms"], 99.0);
  EXPECT_TRUE(blind["leader_pid"].is_null());
  EXPECT_TRUE(blind["leader_cpu_ms_per_job"].is_null());
  EXPECT_TRUE(blind["leader_idle_cpu_percent"].is_null());
  EXPECT_TRUE(blind["leader_rss_per_agent_kib"].is_null());

  r.leader_pid = 4321;
  r.leader_pid_from = "port";
  r.leader_before = ProcessSample{10.0, 100u << 20};
  r.idle_start = ProcessSample{11.0, 101u << 20};
  r.idle_end = ProcessSample{11.5, 102u << 20};
  r.idle_seconds = 10;
  r.load_start = ProcessSample{12.0, 102u << 20};
  r.load_end = ProcessSample{14.0, 110u << 20};
  r.load_seconds = 4;
  auto seen = bench_agents_json(r);
  EXPECT_EQ(seen["leader_pid"], 4321);
  EXPECT_EQ(seen["leader_cpu_ms_per_job"], 2.0);           // 2 s over 1000 jobs
  EXPECT_EQ(seen["leader_cpu_percent_under_load"], 50.0);  // 2 s in 4 s
  EXPECT_EQ(seen["leader_idle_cpu_percent"], 5.0);         // 0.5 s in 10 s
  EXPECT_EQ(seen["leader_rss_per_agent_kib"], 20.48);      // 2 MiB over 100 agents
  EXPECT_EQ(seen["leader_rss_idle_mib"], 102.0);
}

}  // namespace
}  // namespace nomad::cli
