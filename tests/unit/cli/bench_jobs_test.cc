#include "cli/bench_jobs.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "fake_scheduler.h"

namespace nomad::cli {
namespace {

using testing::FakeScheduler;

TEST(BenchJobs, ReportShapeAndPercentiles) {
  JobsBenchReport report;
  report.jobs = 1000;
  report.errors = 1;
  report.seconds = 2;
  for (uint32_t i = 1; i <= 1000; ++i) report.latencies_us.push_back(i * 1000);  // 1..1000 ms
  report.statuses = {{"completed", 990}, {"failed", 10}};
  EXPECT_EQ(bench_jobs_json(report).dump(),
            "{\"jobs\":1000,\"errors\":1,\"seconds\":2.0,\"jobs_per_sec\":500.0,\"p50_ms\":500.0,"
            "\"p90_ms\":900.0,\"p99_ms\":990.0,"
            "\"statuses\":{\"completed\":990,\"failed\":10,\"cancelled\":0}}");
  auto empty = bench_jobs_json({});
  EXPECT_EQ(empty["p99_ms"], 0.0);
  EXPECT_EQ(empty["jobs_per_sec"], 0.0);
  EXPECT_EQ(empty["statuses"]["completed"], 0);
}

// Every submitted job is final at once: odd ones completed, even ones failed with code 1.
void finish_at_once(FakeScheduler& server) {
  server.on_submit([](nomad_lite::Job* job) {
    int n = std::stoi(job->id().substr(4));  // "job-N"
    if (n % 2 == 1) {
      job->set_status(nomad_lite::JOB_STATUS_COMPLETED);
      job->set_exit_code(0);
    } else {
      job->set_status(nomad_lite::JOB_STATUS_FAILED);
      job->set_reason("exit_code");
      job->set_exit_code(1);
    }
  });
}

TEST(BenchJobs, SubmitsWaitsAndCountsEveryJob) {
  FakeScheduler leader, follower;
  follower.redirect_writes_to(leader.address());
  finish_at_once(leader);
  BenchJobsOptions options;
  options.clients = 4;
  options.count = 60;
  options.command = "echo bench";
  std::ostringstream out, err;
  ASSERT_EQ(run_bench_jobs(options, {follower.address()}, out, err), 0) << err.str();
  EXPECT_EQ(err.str(), "");
  auto line = out.str();
  ASSERT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  auto report = nlohmann::json::parse(line);
  EXPECT_EQ(report["jobs"], 60);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_EQ(report["statuses"],
            (nlohmann::json{{"completed", 30}, {"failed", 30}, {"cancelled", 0}}));
  EXPECT_GT(report["jobs_per_sec"].get<double>(), 0);
  EXPECT_GE(report["p99_ms"].get<double>(), report["p50_ms"].get<double>());
  auto received = leader.submissions();
  ASSERT_EQ(received.size(), 60u);
  std::set<std::string> keys;
  for (const auto& r : received) {
    EXPECT_EQ(r.command(), "echo bench");
    keys.insert(r.idempotency_key());
  }
  EXPECT_EQ(keys.size(), 60u);  // a key per job
  // Each job was waited for once, at the leader that acknowledged it.
  EXPECT_EQ(leader.wait_requests().size(), 60u);
  EXPECT_TRUE(follower.wait_requests().empty());
}

TEST(BenchJobs, WaitsAgainWhileAJobIsNotDone) {
  FakeScheduler server;  // jobs stay pending until waited for
  for (const char* id : {"job-1", "job-2"}) {
    nomad_lite::Job done;
    done.set_id(id);
    done.set_status(nomad_lite::JOB_STATUS_CANCELLED);
    server.finish_on_wait(done);
  }
  server.wait_not_done(3);
  BenchJobsOptions options;
  options.clients = 1;
  options.count = 2;
  std::ostringstream out, err;
  ASSERT_EQ(run_bench_jobs(options, {server.address()}, out, err), 0) << err.str();
  auto report = nlohmann::json::parse(out.str());
  EXPECT_EQ(report["jobs"], 2);
  EXPECT_EQ(report["statuses"]["cancelled"], 2);
  EXPECT_EQ(server.wait_requests().size(), 5u);  // job-1: done = false three times
}

TEST(BenchJobs, JobsThatNeverEndAreErrorsAfterTheDrain) {
  FakeScheduler server;  // accepts jobs, never runs them
  BenchJobsOptions options;
  options.clients = 2;
  options.count = 10;
  options.duration = Millis(100);
  options.drain = Millis(300);
  std::ostringstream out, err;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_bench_jobs(options, {server.address()}, out, err), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  auto report = nlohmann::json::parse(out.str());
  EXPECT_EQ(report["jobs"], 0);
  EXPECT_EQ(report["errors"], 2);  // the two in flight; no new ones after --duration
  EXPECT_NE(err.str().find("still pending at the end of the run"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace nomad::cli
