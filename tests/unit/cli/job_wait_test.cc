#include "cli/job_wait.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "fake_scheduler.h"

namespace nomad::cli {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace job_wait_test {

using testing::closed_address;
using testing::FakeScheduler;

RetryPolicy quick_policy() {
  RetryPolicy policy;
  policy.unavailable_budget = Millis(3000);
  policy.initial_backoff = Millis(10);
  policy.max_backoff = Millis(50);
  return policy;
}

nomad_lite::Job make_job(nomad_lite::JobStatus status, const std::string& reason = "",
                         std::optional<int> exit_code = std::nullopt, int signal = 0) {
  nomad_lite::Job job;
  job.set_id("j-1");
  job.set_command("x");
  job.set_status(status);
  job.set_reason(reason);
  if (exit_code) job.set_exit_code(*exit_code);
  job.set_signal(signal);
  return job;
}

TEST(JobExitCode, EveryOutcome) {
  using nomad_lite::JOB_STATUS_CANCELLED;
  using nomad_lite::JOB_STATUS_COMPLETED;
  using nomad_lite::JOB_STATUS_FAILED;
  // Completed: its own code, 0.
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_COMPLETED, "", 0)), 0);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_COMPLETED)), 0);
  // Failed with an exit code: that code.
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "exit_code", 3)), 3);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "exit_code", 255)), 255);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "", 42)), 42);
  // Timeout: 124 as timeout(1), whether or not a signal or a code is known.
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "timeout")), 124);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "timeout", std::nullopt, 9)), 124);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "timeout", 143, 15)), 124);
  // Never ran to an end: 125.
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "lost")), 125);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "spawn_error")), 125);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "disconnected", std::nullopt, 15)), 125);
  // Killed by a signal (no timeout): 128 + N.
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "", std::nullopt, 9)), 137);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "exit_code", std::nullopt, 15)), 143);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "signal", std::nullopt, 11)), 139);
  // Cancelled: 130, even when a signal ended the process.
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_CANCELLED)), 130);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_CANCELLED, "", std::nullopt, 15)), 130);
  // A failure that says nothing, or 0, or a code no process exits with: 1.
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED)), 1);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "exit_code", 0)), 1);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "exit_code", -1)), 1);
  EXPECT_EQ(job_exit_code(make_job(JOB_STATUS_FAILED, "exit_code", 300)), 1);
  // Not final: no exit code yet.
  EXPECT_EQ(job_exit_code(make_job(nomad_lite::JOB_STATUS_PENDING)), std::nullopt);
  EXPECT_EQ(job_exit_code(make_job(nomad_lite::JOB_STATUS_RUNNING)), std::nullopt);
  EXPECT_EQ(job_exit_code(make_job(nomad_lite::JOB_STATUS_UNSPECIFIED)), std::nullopt);
  EXPECT_TRUE(job_is_final(make_job(JOB_STATUS_CANCELLED)));
  EXPECT_FALSE(job_is_final(make_job(nomad_lite::JOB_STATUS_RUNNING)));
}

Invocation wait_for(const std::string& id, OutputFormat format = OutputFormat::kJson) {
  Invocation inv;
  inv.command = Command::kJobWait;
  inv.client.output = format;
  inv.job_id = id;
  return inv;
}

nomad_lite::Job failed_with(const std::string& id, int code) {
  nomad_lite::Job job;
  job.set_id(id);
  job.set_command("exit " + std::to_string(code));
  job.set_status(nomad_lite::JOB_STATUS_FAILED);
  job.set_reason("exit_code");
  job.set_exit_code(code);
  return job;
}

TEST(JobWait, CallsAgainUntilDoneAndExitsWithTheJobsCode) {
  FakeScheduler server;
  server.add_job("j-1", "exit 7");
  server.wait_not_done(1);
  server.finish_on_wait(failed_with("j-1", 7));
  Client client({server.address()}, quick_policy());
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(wait_for("j-1"), client, out, err), 7) << err.str();
  EXPECT_EQ(err.str(), "");
  auto requests = server.wait_requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& request : requests) {
    EXPECT_EQ(request.job_id(), "j-1");
    EXPECT_EQ(request.timeout_ms(), 60'000u);  // no --timeout: the longest wait each time
  }
  auto job = nlohmann::json::parse(out.str());
  EXPECT_EQ(job["status"], "failed");
  EXPECT_EQ(job["exit_code"], 7);
}

TEST(JobWait, PrintsTheFinalJobAsATable) {
  FakeScheduler server;
  nomad_lite::Job done = failed_with("j-1", 0);
  done.set_status(nomad_lite::JOB_STATUS_COMPLETED);
  done.set_reason("");
  server.set_job(done);
  Client client({server.address()}, quick_policy());
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(wait_for("j-1", OutputFormat::kTable), client, out, err), 0);
  EXPECT_NE(out.str().find("Status     completed\n"), std::string::npos) << out.str();
}

TEST(JobWait, AcceptsAUniqueIdPrefix) {
  FakeScheduler server;
  server.set_job(failed_with("0193f7c2-aaaa-1111", 4));
  server.add_job("0193f7c2-aaab-2222", "b");
  Client client({server.address()}, quick_policy());
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(wait_for("0193f7c2-aaaa"), client, out, err), 4) << err.str();
  EXPECT_EQ(nlohmann::json::parse(out.str())["id"], "0193f7c2-aaaa-1111");
}

TEST(JobWait, AnUnknownJobIsAnErrorWithExitCode1) {
  FakeScheduler server;
  Client client({server.address()}, quick_policy());
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(wait_for("missing"), client, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(), "nomad-lite: job wait: job 'missing' not found (NOT_FOUND)\n");
}

TEST(JobWait, ItsOwnTimeoutGivesExitCode3) {
  FakeScheduler server;
  server.add_job("j-1", "sleep 999");
  Client client({server.address()}, quick_policy());
  Invocation inv = wait_for("j-1");
  inv.wait.timeout = Millis(300);
  std::ostringstream out, err;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_client_command(inv, client, out, err), kExitWaitTimeout);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(),
            "nomad-lite: job wait: gave up waiting (--timeout): job j-1 is still pending\n");
  // Each call asked the server to wait no longer than the time left.
  for (const auto& request : server.wait_requests()) EXPECT_LE(request.timeout_ms(), 300u);
}

TEST(JobWait, UnavailableMovesToTheNextAddress) {
  FakeScheduler server;
  server.set_job(failed_with("j-1", 2));
  Client client({closed_address(), server.address()}, quick_policy());
  Invocation inv = wait_for("j-1");
  inv.wait.timeout = Millis(5000);
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(inv, client, out, err), 2) << err.str();
}

TEST(JobWait, AClusterThatNeverAnswersRunsIntoTheTimeout) {
  RetryPolicy policy = quick_policy();
  Client client({closed_address()}, policy);
  Invocation inv = wait_for("j-1");
  inv.wait.timeout = Millis(300);
  std::ostringstream out, err;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_client_command(inv, client, out, err), kExitWaitTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_NE(err.str().find("gave up waiting (--timeout): job j-1: no leader reachable"),
            std::string::npos)
      << err.str();
}

TEST(JobSubmit, WaitExitsWithTheJobsCodeAndPrintsOneObject) {
  FakeScheduler server;
  server.finish_on_wait(failed_with("job-1", 4));
  Client client({server.address()}, quick_policy());
  Invocation inv;
  inv.command = Command::kJobSubmit;
  inv.client.output = OutputFormat::kJson;
  inv.submit.command = "exit 4";
  inv.submit.priority = 5;
  inv.submit.wait = true;
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(inv, client, out, err), 4) << err.str();
  auto submitted = server.submissions();
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(submitted[0].priority(), 5);
  auto job = nlohmann::json::parse(out.str());  // one object: the final job
  EXPECT_EQ(job["id"], "job-1");
  EXPECT_EQ(job["status"], "failed");
  EXPECT_EQ(err.str(), "note: job job-1 submitted; waiting for it to end\n");
}

TEST(JobSubmit, WithoutWaitPrintsTheAcknowledgedJob) {
  FakeScheduler server;
  Client client({server.address()}, quick_policy());
  Invocation inv;
  inv.command = Command::kJobSubmit;
  inv.client.output = OutputFormat::kJson;
  inv.submit.command = "true";
  inv.submit.priority = -2;
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(inv, client, out, err), 0) << err.str();
  EXPECT_EQ(server.submissions()[0].priority(), -2);
  EXPECT_EQ(nlohmann::json::parse(out.str())["status"], "pending");
  EXPECT_TRUE(server.wait_requests().empty());
}

TEST(JobSubmit, AnUnknownAfterIdIsInvalidInputWithExitCode2NamingIt) {
  FakeScheduler server;
  server.add_job("j-known", "true");
  Client client({server.address()}, quick_policy());
  Invocation inv;
  inv.command = Command::kJobSubmit;
  inv.submit.command = "true";
  inv.submit.after = {"j-known", "j-unknown"};
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(inv, client, out, err), kExitInvalid);
  EXPECT_NE(err.str().find("after: no job 'j-unknown'"), std::string::npos) << err.str();
  EXPECT_EQ(out.str(), "");
  EXPECT_TRUE(server.submissions().empty());
  // Only what the server refuses as invalid: a cluster that does not answer stays exit code 1.
  server.fail_next(100, grpc::StatusCode::UNAVAILABLE);
  inv.submit.after = {"j-known"};
  RetryPolicy brief = quick_policy();
  brief.unavailable_budget = Millis(300);
  Client impatient({server.address()}, brief);
  EXPECT_EQ(run_client_command(inv, impatient, out, err), kExitError);
}

TEST(JobListPeriodic, LeavesCancelledOnesOutUnlessAll) {
  FakeScheduler server;
  for (auto [id, cancelled] :
       {std::pair{"p-00000000000000a1", false}, std::pair{"p-00000000000000c1", true},
        std::pair{"p-00000000000000c2", true}}) {
    nomad_lite::PeriodicJob p;
    p.set_id(id);
    p.set_every_ms(60'000);
    p.mutable_child()->set_command("true");
    p.set_cancelled(cancelled);
    server.add_periodic(p);
  }
  Client client({server.address()}, quick_policy());
  Invocation inv;
  inv.command = Command::kJobList;
  inv.list.periodic = true;
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(inv, client, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("p-00000000000000a1"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("p-00000000000000c1"), std::string::npos) << out.str();
  EXPECT_EQ(err.str(),
            "note: 2 cancelled periodic jobs not shown (job list --periodic --all shows them)\n");

  inv.list.all = true;
  inv.client.output = OutputFormat::kJson;
  std::ostringstream all_out, all_err;
  ASSERT_EQ(run_client_command(inv, client, all_out, all_err), 0) << all_err.str();
  auto listed = nlohmann::json::parse(all_out.str())["periodic"];
  ASSERT_EQ(listed.size(), 3u) << all_out.str();
  EXPECT_EQ(listed[1]["state"], "cancelled");
  EXPECT_EQ(all_err.str(), "");
}

TEST(JobStatus, JsonCarriesTheOutputTails) {
  FakeScheduler server;
  nomad_lite::Job job = failed_with("j-1", 1);
  job.set_stderr_tail("boom\n");
  server.set_job(job);
  Client client({server.address()}, quick_policy());
  Invocation inv;
  inv.command = Command::kJobStatus;
  inv.client.output = OutputFormat::kJson;
  inv.job_id = "j-1";
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(inv, client, out, err), 0) << err.str();
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["stderr_tail"], "boom\n");
  EXPECT_EQ(j["stdout_tail"], "");

  inv.command = Command::kJobList;
  std::ostringstream listed;
  ASSERT_EQ(run_client_command(inv, client, listed, err), 0) << err.str();
  EXPECT_FALSE(nlohmann::json::parse(listed.str())["jobs"][0].contains("stderr_tail"));
}

}  // namespace job_wait_test
}  // namespace nomad::cli
