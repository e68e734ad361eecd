#include "cli/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <sstream>

#include "cli/bench.h"
#include "cli/commands.h"
#include "fake_scheduler.h"

namespace nomad::cli {
namespace {

using testing::closed_address;
using testing::FakeScheduler;

RetryPolicy quick_policy() {
  RetryPolicy policy;
  policy.unavailable_budget = Millis(3000);
  policy.initial_backoff = Millis(10);
  policy.max_backoff = Millis(50);
  return policy;
}

nomad_lite::SubmitJobRequest submission(const std::string& command) {
  nomad_lite::SubmitJobRequest request;
  request.set_command(command);
  request.set_idempotency_key("key-" + command);
  return request;
}

TEST(Client, AWriteSentToAFollowerIsRetriedAtTheLeader) {
  FakeScheduler leader, follower;
  follower.redirect_writes_to(leader.address());
  Client client({follower.address()}, quick_policy());
  nomad_lite::SubmitJobResponse response;
  grpc::Status status = client.submit_job(submission("echo hi"), &response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(follower.redirected(), 1);
  ASSERT_EQ(leader.submissions().size(), 1u);
  EXPECT_EQ(leader.submissions()[0].command(), "echo hi");
  EXPECT_EQ(leader.submissions()[0].idempotency_key(), "key-echo hi");  // the same request
  EXPECT_EQ(client.current_target(), leader.address());
  // The next write goes to the leader directly.
  ASSERT_TRUE(client.submit_job(submission("two"), &response).ok());
  EXPECT_EQ(follower.redirected(), 1);
  EXPECT_EQ(leader.submissions().size(), 2u);
}

TEST(Client, RedirectsFollowAChainButNotALoop) {
  FakeScheduler leader, a, b;
  a.redirect_writes_to(b.address());
  b.redirect_writes_to(leader.address());
  Client chained({a.address()}, quick_policy());
  nomad_lite::SubmitJobResponse response;
  ASSERT_TRUE(chained.submit_job(submission("x"), &response).ok());
  EXPECT_EQ(leader.submissions().size(), 1u);

  // Two followers naming each other: a bounded number of hops, then the error.
  FakeScheduler c, d;
  c.redirect_writes_to(d.address());
  d.redirect_writes_to(c.address());
  Client looping({c.address()}, quick_policy());
  grpc::Status status = looping.submit_job(submission("y"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_LE(c.redirected() + d.redirected(), 6);
}

TEST(Client, UnavailableIsRetriedUntilALeaderIsElected) {
  FakeScheduler server;
  server.fail_next(3);
  Client client({server.address()}, quick_policy());
  nomad_lite::SubmitJobResponse response;
  grpc::Status status = client.submit_job(submission("x"), &response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(server.calls(), 4);
  EXPECT_EQ(server.submissions().size(), 1u);
}

TEST(Client, AnOverloadedLeaderIsAskedAgainLater) {
  FakeScheduler server;
  server.fail_next(2, grpc::StatusCode::RESOURCE_EXHAUSTED);
  Client client({server.address()}, quick_policy());
  nomad_lite::SubmitJobResponse response;
  grpc::Status status = client.submit_job(submission("x"), &response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(server.calls(), 3);
}

TEST(Client, ADeadAddressIsSkippedForTheNextOne) {
  FakeScheduler live;
  Client client({closed_address(), live.address()}, quick_policy());
  nomad_lite::GetClusterStatusResponse response;
  grpc::Status status = client.get_cluster_status({}, &response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.role(), "leader");
  EXPECT_EQ(client.current_target(), live.address());
}

TEST(Client, GivesUpAfterTheUnavailableBudget) {
  RetryPolicy policy = quick_policy();
  policy.unavailable_budget = Millis(300);
  Client client({closed_address()}, policy);
  auto start = std::chrono::steady_clock::now();
  nomad_lite::GetClusterStatusResponse response;
  grpc::Status status = client.get_cluster_status({}, &response);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("no leader reachable"), std::string::npos)
      << status.error_message();
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST(Client, OtherErrorsAreNotRetried) {
  FakeScheduler server;
  Client client({server.address()}, quick_policy());
  nomad_lite::GetJobStatusRequest request;
  request.set_job_id("nope");
  nomad_lite::GetJobStatusResponse response;
  grpc::Status status = client.get_job_status(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(server.calls(), 1);
  EXPECT_EQ(describe(status), "job 'nope' not found (NOT_FOUND)");

  // FAILED_PRECONDITION without a leader address is an answer, not a redirect.
  server.fail_next(1, grpc::StatusCode::FAILED_PRECONDITION);
  nomad_lite::SubmitJobResponse submitted;
  EXPECT_EQ(client.submit_job(submission("x"), &submitted).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(server.calls(), 2);
}

Invocation invocation(Command command, OutputFormat format = OutputFormat::kJson) {
  Invocation inv;
  inv.command = command;
  inv.client.output = format;
  return inv;
}

TEST(Commands, SubmitSetsARandomIdempotencyKeyPerSubmission) {
  FakeScheduler server;
  Client client({server.address()}, quick_policy());
  Invocation inv = invocation(Command::kJobSubmit);
  inv.submit.command = "echo hi";
  inv.submit.timeout = Millis(30'000);
  inv.submit.env = {{"A", "1"}};
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(inv, client, out, err), 0) << err.str();
  ASSERT_EQ(run_client_command(inv, client, out, err), 0) << err.str();
  auto received = server.submissions();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].command(), "echo hi");
  EXPECT_EQ(received[0].timeout_ms(), 30'000u);
  EXPECT_EQ(received[0].env().at("A"), "1");
  EXPECT_EQ(received[0].idempotency_key().size(), 32u);
  EXPECT_NE(received[0].idempotency_key(), received[1].idempotency_key());

  inv.submit.idempotency_key = "mine";
  ASSERT_EQ(run_client_command(inv, client, out, err), 0) << err.str();
  EXPECT_EQ(server.submissions()[2].idempotency_key(), "mine");
}

TEST(Commands, SubmitPrintsTheJobObject) {
  FakeScheduler server;
  Client client({server.address()}, quick_policy());
  Invocation inv = invocation(Command::kJobSubmit);
  inv.submit.command = "true";
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(inv, client, out, err), 0) << err.str();
  auto job = nlohmann::json::parse(out.str());
  EXPECT_EQ(job["id"], "job-1");
  EXPECT_EQ(job["status"], "pending");
}

TEST(Commands, ListFollowsPageTokensAndHonoursTheLimit) {
  FakeScheduler server;
  server.set_page_size(2);
  for (int i = 0; i < 5; ++i) server.add_job("id-" + std::to_string(i), "cmd");
  Client client({server.address()}, quick_policy());
  Invocation inv = invocation(Command::kJobList);
  std::ostringstream all, err;
  ASSERT_EQ(run_client_command(inv, client, all, err), 0) << err.str();
  auto jobs = nlohmann::json::parse(all.str())["jobs"];
  ASSERT_EQ(jobs.size(), 5u);
  EXPECT_EQ(jobs[4]["id"], "id-4");

  inv.list.limit = 3;
  std::ostringstream limited;
  ASSERT_EQ(run_client_command(inv, client, limited, err), 0) << err.str();
  EXPECT_EQ(nlohmann::json::parse(limited.str())["jobs"].size(), 3u);
}

TEST(Commands, StatusAndCancelAcceptAUniqueIdPrefix) {
  FakeScheduler server;
  server.add_job("0193f7c2-aaaa-1111", "a");
  server.add_job("0193f7c2-aaab-2222", "b");
  Client client({server.address()}, quick_policy());
  Invocation status = invocation(Command::kJobStatus);
  status.job_id = "0193f7c2-aaab";
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(status, client, out, err), 0) << err.str();
  EXPECT_EQ(nlohmann::json::parse(out.str())["command"], "b");

  Invocation cancel = invocation(Command::kJobCancel);
  cancel.job_id = "0193f7c2-aaaa";
  std::ostringstream cancelled;
  ASSERT_EQ(run_client_command(cancel, client, cancelled, err), 0) << err.str();
  EXPECT_EQ(nlohmann::json::parse(cancelled.str())["status"], "cancelled");

  status.job_id = "0193f7c2";
  std::ostringstream ambiguous_out, ambiguous_err;
  EXPECT_EQ(run_client_command(status, client, ambiguous_out, ambiguous_err), 1);
  EXPECT_NE(ambiguous_err.str().find("start of 2 job ids"), std::string::npos)
      << ambiguous_err.str();
}

TEST(Commands, ErrorsAreOneLineOnStderrWithExitCode1) {
  FakeScheduler server;
  Client client({server.address()}, quick_policy());
  Invocation status = invocation(Command::kJobStatus, OutputFormat::kTable);
  status.job_id = "missing";
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(status, client, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(), "nomad-lite: job status: job 'missing' not found (NOT_FOUND)\n");
}

TEST(Bench, CommandHasExactlyThePayloadSize) {
  EXPECT_EQ(bench_command(100).size(), 100u);
  EXPECT_EQ(bench_command(100).rfind("true #", 0), 0u);
  EXPECT_EQ(bench_command(5), "true ");
  EXPECT_EQ(bench_command(0), "true");
}

TEST(Bench, ReportPercentilesByNearestRank) {
  BenchReport report;
  report.ops = 1000;
  report.errors = 2;
  report.seconds = 0.5;
  for (uint32_t i = 1000; i >= 1; --i) report.latencies_us.push_back(i * 1000);  // 1..1000 ms
  auto j = bench_json(report);
  EXPECT_EQ(j.dump(),
            "{\"ops\":1000,\"errors\":2,\"seconds\":0.5,\"ops_per_sec\":2000.0,\"p50_ms\":500.0,"
            "\"p90_ms\":900.0,\"p99_ms\":990.0,\"p999_ms\":999.0}");
  EXPECT_EQ(bench_json({}).at("p99_ms"), 0.0);
}

TEST(Bench, SubmitsEveryRequestOnceAndFollowsTheLeader) {
  FakeScheduler leader, follower;
  follower.redirect_writes_to(leader.address());
  BenchOptions options;
  options.clients = 8;
  options.requests = 200;
  options.payload = 64;
  std::ostringstream out, err;
  ASSERT_EQ(run_bench(options, {follower.address()}, out, err), 0) << err.str();
  auto line = out.str();
  ASSERT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  auto report = nlohmann::json::parse(line);
  EXPECT_EQ(report["ops"], 200);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_GT(report["ops_per_sec"].get<double>(), 0);
  auto received = leader.submissions();
  ASSERT_EQ(received.size(), 200u);
  std::set<std::string> keys;
  for (const auto& r : received) {
    EXPECT_EQ(r.command().size(), 64u);
    keys.insert(r.idempotency_key());
  }
  EXPECT_EQ(keys.size(), 200u);
  // Only the calls in flight before the first answer went to the follower.
  EXPECT_LE(follower.redirected(), options.clients);
}

TEST(Bench, CountsErrorsAndStops) {
  FakeScheduler server;
  server.fail_next(1'000'000);
  BenchOptions options;
  options.clients = 2;
  options.requests = 4;
  options.duration = Millis(100);
  std::ostringstream out, err;
  EXPECT_EQ(run_bench(options, {server.address()}, out, err), 1);
  auto report = nlohmann::json::parse(out.str());
  EXPECT_EQ(report["ops"], 0);
  EXPECT_GE(report["errors"].get<int>(), 1);
  EXPECT_NE(err.str().find("no leader yet"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace nomad::cli
