#include "cli/job_logs.h"

#include <gtest/gtest.h>

#include <sstream>

#include "cli/commands.h"
#include "fake_scheduler.h"

namespace nomad::cli {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace job_logs_test {

using testing::FakeScheduler;

RetryPolicy quick_policy() {
  RetryPolicy policy;
  policy.unavailable_budget = Millis(3000);
  policy.initial_backoff = Millis(10);
  policy.max_backoff = Millis(50);
  return policy;
}

nomad_lite::LogChunk chunk(const std::string& data, uint64_t offset, bool tail_only = false) {
  nomad_lite::LogChunk c;
  c.set_data(data);
  c.set_offset(offset);
  c.set_tail_only(tail_only);
  return c;
}

Invocation logs_of(const std::string& id) {
  Invocation inv;
  inv.command = Command::kJobLogs;
  inv.job_id = id;
  return inv;
}

// A job that ran twice: attempt 1 on node 2, attempt 2 on node 3.
nomad_lite::Job job_with_attempts(const std::string& id) {
  nomad_lite::Job job;
  job.set_id(id);
  job.set_status(nomad_lite::JOB_STATUS_COMPLETED);
  job.set_node_id(3);
  job.set_attempt(2);
  for (uint32_t n : {1u, 2u}) {
    auto* attempt = job.add_attempts();
    attempt->set_number(n);
    attempt->set_node_id(n + 1);
  }
  return job;
}

TEST(JobLogs, WritesTheChunksInOrderAsTheyCome) {
  FakeScheduler server;
  server.set_job(job_with_attempts("j-1"));
  server.set_logs({chunk("one\n", 0), chunk("two", 4), chunk(std::string("\0\xff\n", 3), 7)});
  Client client({server.address()}, quick_policy());
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(logs_of("j-1"), client, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), std::string("one\ntwo\0\xff\n", 10));  // bytes as they are
  EXPECT_EQ(err.str(), "");
  auto requests = server.logs_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].job_id(), "j-1");
  EXPECT_FALSE(requests[0].stderr());
  EXPECT_FALSE(requests[0].follow());
  EXPECT_EQ(requests[0].attempt(), 0u);
  EXPECT_EQ(requests[0].offset(), 0u);
}

TEST(JobLogs, PassesStderrFollowAndAttemptAndAcceptsAPrefix) {
  FakeScheduler server;
  server.set_job(job_with_attempts("0193f7c2-aaaa-1111"));
  server.add_job("0193f7c2-aaab-2222", "other");
  server.set_logs({chunk("err\n", 0)});
  Client client({server.address()}, quick_policy());
  Invocation inv = logs_of("0193f7c2-aaaa");
  inv.logs.use_stderr = true;
  inv.logs.follow = true;
  inv.logs.attempt = 1;
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(inv, client, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "err\n");
  auto requests = server.logs_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].job_id(), "0193f7c2-aaaa-1111");
  EXPECT_TRUE(requests[0].stderr());
  EXPECT_TRUE(requests[0].follow());
  EXPECT_EQ(requests[0].attempt(), 1u);
}

TEST(JobLogs, TailOnlyIsNotedOnceNamingTheAttemptsNode) {
  FakeScheduler server;
  server.set_job(job_with_attempts("j-1"));
  server.set_logs({chunk("last ", 100, true), chunk("bytes\n", 105, true)});
  Client client({server.address()}, quick_policy());
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(logs_of("j-1"), client, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "last bytes\n");
  EXPECT_EQ(err.str(),
            "note: node 3 that ran this attempt is unreachable; showing the last 64 KiB kept in "
            "the cluster\n");

  Invocation first = logs_of("j-1");
  first.logs.attempt = 1;
  std::ostringstream out1, err1;
  ASSERT_EQ(run_client_command(first, client, out1, err1), 0) << err1.str();
  EXPECT_EQ(err1.str(), tail_only_note(2) + "\n");
  EXPECT_EQ(tail_only_note(0),
            "note: the node that ran this attempt is unreachable; showing the last 64 KiB kept "
            "in the cluster");
}

TEST(JobLogs, TruncationIsNotedOnce) {
  FakeScheduler server;
  server.set_job(job_with_attempts("j-1"));
  auto cut = chunk("b", 1);
  cut.set_truncated(true);
  server.set_logs({chunk("a", 0), cut, cut});
  Client client({server.address()}, quick_policy());
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(logs_of("j-1"), client, out, err), 0);
  EXPECT_EQ(err.str(), "note: the output reached its size limit and was cut\n");
}

TEST(JobLogs, ABrokenStreamResumesAfterTheLastByteReceived) {
  FakeScheduler server;
  server.set_job(job_with_attempts("j-1"));
  server.set_logs({chunk("hello ", 0), chunk("wor", 6), chunk("ld\n", 9)});
  server.break_logs_after(2);
  Client client({server.address()}, quick_policy());
  std::ostringstream out, err;
  ASSERT_EQ(run_client_command(logs_of("j-1"), client, out, err), 0) << err.str();
  // The fake sends everything again; what was printed already is not printed twice.
  EXPECT_EQ(out.str(), "hello world\n");
  auto requests = server.logs_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].offset(), 9u);
}

TEST(JobLogs, AnUnknownJobIsAnErrorWithExitCode1) {
  FakeScheduler server;
  Client client({server.address()}, quick_policy());
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command(logs_of("missing"), client, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(), "nomad-lite: job logs: job 'missing' not found (NOT_FOUND)\n");
  EXPECT_TRUE(server.logs_requests().empty());
}

}  // namespace job_logs_test
}  // namespace nomad::cli
