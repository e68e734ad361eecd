// The job state machine, one rule per test: attempts (assign/started/finished) with fencing,
// retries with backoff, lost attempts, cancel, priority order, retention, snapshots, the
// pending reasons and replica determinism.

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <set>
#include <string>
#include <vector>

#include "jobs/job_store.h"
#include "support/job_commands.h"

namespace nomad::jobs {
namespace {

using namespace nomad::jobs::testing;  // NOLINT
using nomad_lite::JOB_STATUS_CANCELLED;
using nomad_lite::JOB_STATUS_COMPLETED;
using nomad_lite::JOB_STATUS_FAILED;
using nomad_lite::JOB_STATUS_PENDING;
using nomad_lite::JOB_STATUS_RUNNING;

std::set<std::string> as_set(std::vector<std::string> v) { return {v.begin(), v.end()}; }

// A replica with one pending job "a" (and any options) submitted at index 1.
Replica with_job(const Opt& options = Opt()) {
  Replica r;
  EXPECT_TRUE(r.apply(submit_cmd("a", options)).status.is_ok());
  return r;
}

// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------

TEST(JobSubmit, ASubmittedJobIsPendingWithItsLogIndexAndKeyAndNoAttempt) {
  Replica r;
  r.noop();
  ApplyResult res = r.apply(submit_cmd("a", Opt().retries(2).priority(5).key("k")));
  ASSERT_TRUE(res.status.is_ok());
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_PENDING);
  EXPECT_EQ(job.submit_index(), 2u);
  EXPECT_EQ(job.idempotency_key(), "k");
  EXPECT_EQ(job.retries(), 2u);
  EXPECT_EQ(job.priority(), 5);
  EXPECT_EQ(job.attempt(), 0u);
  EXPECT_EQ(job.node_id(), 0u);
  EXPECT_EQ(job.attempts_size(), 0);
  EXPECT_EQ(pending_ids(r.store()), std::vector<std::string>{"a"});
  EXPECT_EQ(res.job.id(), "a");
  EXPECT_EQ(res.job.status(), JOB_STATUS_PENDING);
}

TEST(JobSubmit, ASecondJobWithAnExistingIdIsRejected) {
  Replica r = with_job();
  ApplyResult res = r.apply(submit_cmd("a"));
  EXPECT_FALSE(res.status.is_ok());
  EXPECT_EQ(r.store().size(), 1u);
  EXPECT_EQ(r.job("a").submit_index(), 1u);
}

TEST(JobSubmit, NoopAndUnknownEntriesChangeNothing) {
  Replica r = with_job();
  r.store().take_changes();
  std::string before = r.store().snapshot();
  EXPECT_TRUE(r.noop().status.is_ok());
  ApplyResult empty = r.apply(nomad_lite::Command{});  // no kind set
  EXPECT_FALSE(empty.status.is_ok());
  EXPECT_EQ(r.store().snapshot(), before);
  EXPECT_TRUE(r.store().take_changes().empty());
}

// ---------------------------------------------------------------------------------------------
// Assign
// ---------------------------------------------------------------------------------------------

TEST(JobAssign, AssignMovesAPendingJobToRunningAsAttemptOneOnTheNode) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_RUNNING);
  EXPECT_EQ(job.node_id(), 2u);
  EXPECT_EQ(job.attempt(), 1u);
  EXPECT_EQ(job.started_at_ms(), 0);
  ASSERT_EQ(job.attempts_size(), 1);
  EXPECT_EQ(job.attempts(0).number(), 1u);
  EXPECT_EQ(job.attempts(0).node_id(), 2u);
  EXPECT_EQ(job.attempts(0).status(), JOB_STATUS_RUNNING);
  EXPECT_EQ(job.attempts(0).assigned_at_ms(), 5000);
  EXPECT_EQ(job.attempts(0).started_at_ms(), 0);
  EXPECT_TRUE(r.store().pending_queue().empty());
  EXPECT_EQ(r.store().running_on(2), 1u);
  EXPECT_EQ(running_ids(r.store(), 2), std::vector<std::string>{"a"});
  EXPECT_EQ(r.store().running_on(1), 0u);
  EXPECT_EQ(r.store().running_jobs_on(1), nullptr);
  EXPECT_TRUE(r.store().finished_order().empty());
}

TEST(JobAssign, ARepeatedAssignOfTheSameAttemptIsIgnored) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.store().take_changes();
  // The same proposal again (say, a new leader re-proposes it), even naming another node.
  r.apply(assign_cmd("a", 1, 2, 6000));
  r.apply(assign_cmd("a", 1, 3, 6000));
  const auto& job = r.job("a");
  ASSERT_EQ(job.attempts_size(), 1);
  EXPECT_EQ(job.node_id(), 2u);
  EXPECT_EQ(job.attempts(0).assigned_at_ms(), 5000);
  EXPECT_EQ(r.store().running_on(2), 1u);
  EXPECT_EQ(r.store().running_on(3), 0u);
  EXPECT_TRUE(r.store().take_changes().empty());
}

TEST(JobAssign, AssignOfAJobThatIsNotPendingIsIgnored) {
  Replica r;
  r.apply(submit_cmd("running"));
  r.apply(submit_cmd("done"));
  r.apply(submit_cmd("cancelled"));
  r.apply(assign_cmd("running", 1, 1, 10));
  r.apply(assign_cmd("done", 1, 1, 10));
  r.apply(finished_cmd("done", 1, 1, 20, 0));
  r.apply(cancel_cmd("cancelled", 30));
  std::string before = r.store().snapshot();
  r.store().take_changes();

  r.apply(assign_cmd("running", 2, 2, 40));
  r.apply(assign_cmd("done", 2, 2, 40));
  r.apply(assign_cmd("cancelled", 1, 2, 40));
  r.apply(assign_cmd("no-such-job", 1, 2, 40));

  EXPECT_EQ(r.store().snapshot(), before);
  EXPECT_TRUE(r.store().take_changes().empty());
  EXPECT_EQ(r.store().running_on(2), 0u);
  EXPECT_EQ(r.store().find("no-such-job"), nullptr);
}

TEST(JobAssign, AssignOfAPendingJobWithTheWrongAttemptNumberIsIgnored) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 0, 1, 10));
  r.apply(assign_cmd("a", 2, 1, 10));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_PENDING);
  EXPECT_EQ(r.job("a").attempts_size(), 0);
  EXPECT_EQ(pending_ids(r.store()), std::vector<std::string>{"a"});
}

TEST(JobAssign, ABatchAppliesSlotsThenAssignsThenStartedThenFinished) {
  Replica r;
  r.apply(submit_cmd("a"));
  r.apply(submit_cmd("b"));
  nomad_lite::Command c;
  auto* u = c.mutable_updates();
  u->set_at_ms(100);
  // Listed in the message's field order; the store applies them kind by kind.
  *u->add_finished() = finished_msg("a", 1, 1, 100, 0);
  *u->add_started() = started_msg("a", 1, 1, 90);
  *u->add_assign() = assign_msg("a", 1, 1);
  *u->add_assign() = assign_msg("b", 1, 2);
  auto* s = u->add_slots();
  s->set_node_id(1);
  s->set_slots(4);
  r.apply(c);
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_COMPLETED);
  EXPECT_EQ(r.job("a").started_at_ms(), 90);
  EXPECT_EQ(r.job("b").status(), JOB_STATUS_RUNNING);
  EXPECT_EQ(r.store().node_slots().at(1), 4u);
}

// ---------------------------------------------------------------------------------------------
// Started
// ---------------------------------------------------------------------------------------------

TEST(JobStarted, StartedSetsStartedAtOfTheCurrentAttemptOnItsNode) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.apply(started_cmd("a", 1, 2, 5100));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_RUNNING);
  EXPECT_EQ(job.started_at_ms(), 5100);
  EXPECT_EQ(job.attempts(0).started_at_ms(), 5100);
  EXPECT_EQ(r.store().running_on(2), 1u);
}

TEST(JobStarted, AStartedReportForAnotherAttemptOrNodeIsIgnored) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.store().take_changes();
  r.apply(started_cmd("a", 1, 3, 5100));  // wrong node
  r.apply(started_cmd("a", 2, 2, 5100));  // an attempt that does not exist yet
  r.apply(started_cmd("a", 0, 2, 5100));
  r.apply(started_cmd("b", 1, 2, 5100));  // no such job
  EXPECT_EQ(r.job("a").started_at_ms(), 0);
  EXPECT_EQ(r.job("a").attempts(0).started_at_ms(), 0);
  EXPECT_TRUE(r.store().take_changes().empty());
}

TEST(JobStarted, ARepeatedStartedReportKeepsTheFirstTime) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.apply(started_cmd("a", 1, 2, 5100));
  r.store().take_changes();
  r.apply(started_cmd("a", 1, 2, 5200));
  EXPECT_EQ(r.job("a").started_at_ms(), 5100);
  EXPECT_EQ(r.job("a").attempts(0).started_at_ms(), 5100);
  EXPECT_TRUE(r.store().take_changes().empty());
}

TEST(JobStarted, AStartedReportFromAnEarlierAttemptDoesNotTouchTheRetry) {
  Replica r = with_job(Opt().retries(1));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, 1));
  r.apply(assign_cmd("a", 2, 2, 4000));
  r.apply(started_cmd("a", 1, 1, 4100));  // late report of attempt 1
  EXPECT_EQ(r.job("a").started_at_ms(), 0);
  EXPECT_EQ(r.job("a").attempts(1).started_at_ms(), 0);
  r.apply(started_cmd("a", 2, 2, 4200));
  EXPECT_EQ(r.job("a").started_at_ms(), 4200);
}

// ---------------------------------------------------------------------------------------------
// Finished
// ---------------------------------------------------------------------------------------------

TEST(JobFinished, ExitZeroCompletesTheJobAndCopiesTheOutputTails) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.apply(started_cmd("a", 1, 2, 5100));
  auto f = finished_msg("a", 1, 2, 6000, 0);
  f.set_stdout_tail("out\n");
  f.set_stderr_tail("err\n");
  f.set_stdout_truncated(true);
  r.apply(finished_cmd(f));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_COMPLETED);
  ASSERT_TRUE(job.has_exit_code());
  EXPECT_EQ(job.exit_code(), 0);
  EXPECT_EQ(job.reason(), "");
  EXPECT_EQ(job.finished_at_ms(), 6000);
  EXPECT_EQ(job.started_at_ms(), 5100);
  EXPECT_EQ(job.stdout_tail(), "out\n");
  EXPECT_EQ(job.stderr_tail(), "err\n");
  EXPECT_TRUE(job.stdout_truncated());
  EXPECT_FALSE(job.stderr_truncated());
  const auto& at = job.attempts(0);
  EXPECT_EQ(at.status(), JOB_STATUS_COMPLETED);
  EXPECT_EQ(at.reason(), "");
  EXPECT_EQ(at.exit_code(), 0);
  EXPECT_EQ(at.finished_at_ms(), 6000);
  EXPECT_EQ(r.store().running_on(2), 0u);
  EXPECT_TRUE(r.store().pending_queue().empty());
  ASSERT_EQ(r.store().finished_order().size(), 1u);
  EXPECT_EQ(*r.store().finished_order().begin(), std::make_pair(int64_t{6000}, std::string("a")));
}

TEST(JobFinished, ANonZeroExitFailsTheJobWithReasonExitCode) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.apply(started_cmd("a", 1, 2, 5100));
  r.apply(finished_cmd("a", 1, 2, 6000, 3));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_FAILED);
  EXPECT_EQ(job.reason(), "exit_code");
  EXPECT_EQ(job.exit_code(), 3);
  EXPECT_EQ(job.finished_at_ms(), 6000);
  EXPECT_EQ(job.attempts(0).status(), JOB_STATUS_FAILED);
  EXPECT_EQ(job.attempts(0).reason(), "exit_code");
  EXPECT_EQ(job.attempts(0).exit_code(), 3);
  EXPECT_EQ(r.store().running_on(2), 0u);
  EXPECT_EQ(r.store().finished_order().size(), 1u);
}

TEST(JobFinished, ATimeoutFailsTheJobWithReasonTimeout) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.apply(started_cmd("a", 1, 2, 5100));
  auto f = finished_msg("a", 1, 2, 9000, std::nullopt, "timeout", 9);
  r.apply(finished_cmd(f));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_FAILED);
  EXPECT_EQ(job.reason(), "timeout");
  EXPECT_FALSE(job.has_exit_code());
  EXPECT_EQ(job.signal(), 9);
  EXPECT_EQ(job.attempts(0).reason(), "timeout");
  EXPECT_EQ(job.attempts(0).signal(), 9);
}

TEST(JobFinished, TheAttemptRecordsItsPeakMemoryAndCpuTime) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  auto f = finished_msg("a", 1, 2, 6000, 0);
  f.set_peak_memory_bytes(12 << 20);
  f.set_cpu_time_ms(345);
  r.apply(finished_cmd(f));
  EXPECT_EQ(r.job("a").attempts(0).peak_memory_bytes(), 12u << 20);
  EXPECT_EQ(r.job("a").attempts(0).cpu_time_ms(), 345u);
}

TEST(JobFinished, AnOomFailsTheAttemptWithReasonOomAndCountsAgainstRetries) {
  Replica r = with_job(Opt().retries(1));
  r.apply(assign_cmd("a", 1, 2, 5000));
  auto f = finished_msg("a", 1, 2, 6000, 137, "oom");
  f.set_error("killed by the kernel: out of memory (limit 67108864 bytes, peak 67108864 bytes)");
  f.set_peak_memory_bytes(64 << 20);
  r.apply(finished_cmd(f));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_PENDING);  // retries 1: once more
  EXPECT_EQ(r.job("a").attempts(0).reason(), "oom");
  EXPECT_EQ(r.job("a").attempts(0).peak_memory_bytes(), 64u << 20);
  r.apply(assign_cmd("a", 2, 2, 8000));
  r.apply(finished_cmd(finished_msg("a", 2, 2, 9000, 137, "oom")));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_FAILED);
  EXPECT_EQ(job.reason(), "oom");
  EXPECT_EQ(job.exit_code(), 137);
  EXPECT_EQ(job.started_at_ms(), 9000);  // the process ran: its finish says it started
}

TEST(JobFinished, ASpawnErrorFailsTheJobWithItsErrorAndNoStartTime) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  auto f = finished_msg("a", 1, 2, 5001, std::nullopt, "spawn_error");
  f.set_error("/bin/sh: not found");
  r.apply(finished_cmd(f));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_FAILED);
  EXPECT_EQ(job.reason(), "spawn_error");
  EXPECT_EQ(job.error(), "/bin/sh: not found");
  EXPECT_EQ(job.started_at_ms(), 0);
  EXPECT_EQ(job.attempts(0).started_at_ms(), 0);
  EXPECT_EQ(job.attempts(0).error(), "/bin/sh: not found");
}

TEST(JobFinished, AFinishWithoutAStartedReportStillRecordsAStartTime) {
  // The process ran (it exited), so the attempt and the job both get a start time.
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.apply(finished_cmd("a", 1, 2, 6000, 0));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_COMPLETED);
  EXPECT_EQ(job.attempts(0).started_at_ms(), 6000);
  EXPECT_EQ(job.started_at_ms(), job.attempts(0).started_at_ms());
}

TEST(JobFinished, AKillBySignalWithoutAnExitCodeFailsTheJob) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.apply(finished_cmd("a", 1, 2, 6000, std::nullopt, "", 9));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_FAILED);
  EXPECT_FALSE(job.has_exit_code());
  EXPECT_EQ(job.signal(), 9);
}

TEST(JobFinished, ARepeatedFinishedReportIsIgnored) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 5000));
  r.apply(finished_cmd("a", 1, 2, 6000, 0));
  std::string before = r.store().snapshot();
  r.store().take_changes();
  r.apply(finished_cmd("a", 1, 2, 7000, 0));
  r.apply(finished_cmd("a", 1, 2, 7000, 1));
  r.apply(finished_cmd("a", 1, 2, 7000, std::nullopt, "lost"));
  EXPECT_EQ(r.store().snapshot(), before);
  EXPECT_TRUE(r.store().take_changes().empty());
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_COMPLETED);
  EXPECT_EQ(r.job("a").finished_at_ms(), 6000);
}

TEST(JobFinished, AFinishedReportForAStaleAttemptOrAnotherNodeIsFenced) {
  Replica r = with_job(Opt().retries(1));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, std::nullopt, "lost"));  // the leader gave up on node 1
  r.apply(assign_cmd("a", 2, 2, 3000));
  r.apply(started_cmd("a", 2, 2, 3100));
  r.store().take_changes();

  // Node 1 comes back and reports the end of attempt 1; attempt 2 is wrongly claimed by node 1.
  r.apply(finished_cmd("a", 1, 1, 4000, 0));
  r.apply(finished_cmd("a", 2, 1, 4000, 0));
  r.apply(finished_cmd("a", 3, 2, 4000, 0));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_RUNNING);
  EXPECT_EQ(job.node_id(), 2u);
  EXPECT_EQ(job.attempt(), 2u);
  EXPECT_EQ(job.attempts(0).status(), JOB_STATUS_FAILED);
  EXPECT_EQ(job.attempts(0).reason(), "lost");
  EXPECT_EQ(job.attempts(1).status(), JOB_STATUS_RUNNING);
  EXPECT_TRUE(r.store().take_changes().empty());
  EXPECT_EQ(r.store().running_on(2), 1u);
  EXPECT_EQ(r.store().running_on(1), 0u);

  r.apply(finished_cmd("a", 2, 2, 5000, 0));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_COMPLETED);
}

TEST(JobFinished, AFinishedReportForAPendingJobWithoutAttemptsIsIgnored) {
  Replica r = with_job();
  r.apply(finished_cmd("a", 1, 1, 4000, 0));
  r.apply(finished_cmd("a", 0, 0, 4000, 0));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_PENDING);
  EXPECT_EQ(r.job("a").attempts_size(), 0);
}

// ---------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------

TEST(JobRetries, RetryBackoffDoublesFromOneSecondAndIsCappedAtThirtySeconds) {
  EXPECT_EQ(retry_backoff_ms(2), 1000);
  EXPECT_EQ(retry_backoff_ms(3), 2000);
  EXPECT_EQ(retry_backoff_ms(4), 4000);
  EXPECT_EQ(retry_backoff_ms(5), 8000);
  EXPECT_EQ(retry_backoff_ms(6), 16000);
  EXPECT_EQ(retry_backoff_ms(7), 30000);
  EXPECT_EQ(retry_backoff_ms(100), 30000);
  EXPECT_EQ(retry_backoff_ms(UINT32_MAX), 30000);
  EXPECT_EQ(retry_backoff_ms(1), 1000);
  EXPECT_EQ(retry_backoff_ms(0), 1000);
}

TEST(JobRetries, AFailedAttemptIsRetriedAfterABackoffUntilRetriesRunOutThenTheJobFails) {
  Replica r = with_job(Opt().retries(2));
  // Attempt 1 fails on node 1.
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(started_cmd("a", 1, 1, 1100));
  r.apply(finished_cmd("a", 1, 1, 2000, 1));
  {
    const auto& job = r.job("a");
    EXPECT_EQ(job.status(), JOB_STATUS_PENDING);
    EXPECT_EQ(job.not_before_ms(), 2000 + retry_backoff_ms(2));
    EXPECT_EQ(job.not_before_ms(), 3000);
    EXPECT_EQ(job.node_id(), 0u);
    EXPECT_EQ(job.attempt(), 1u);
    EXPECT_EQ(job.reason(), "");  // not final yet
    EXPECT_EQ(job.finished_at_ms(), 0);
    EXPECT_EQ(pending_ids(r.store()), std::vector<std::string>{"a"});
    EXPECT_EQ(r.store().running_on(1), 0u);
    EXPECT_TRUE(r.store().finished_order().empty());
  }
  // Attempt 2 fails on node 2 with another code.
  r.apply(assign_cmd("a", 2, 2, 3000));
  EXPECT_EQ(r.job("a").not_before_ms(), 0);
  EXPECT_EQ(r.job("a").started_at_ms(), 0);
  r.apply(started_cmd("a", 2, 2, 3100));
  r.apply(finished_cmd("a", 2, 2, 4000, 2));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_PENDING);
  EXPECT_EQ(r.job("a").not_before_ms(), 4000 + retry_backoff_ms(3));
  EXPECT_EQ(r.job("a").not_before_ms(), 6000);
  // Attempt 3 times out: no retry left.
  r.apply(assign_cmd("a", 3, 3, 6000));
  r.apply(started_cmd("a", 3, 3, 6100));
  r.apply(finished_cmd("a", 3, 3, 7000, std::nullopt, "timeout", 15));

  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_FAILED);
  EXPECT_EQ(job.reason(), "timeout");
  EXPECT_EQ(job.finished_at_ms(), 7000);
  EXPECT_EQ(job.attempt(), 3u);
  ASSERT_EQ(job.attempts_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(job.attempts(i).number(), static_cast<uint32_t>(i + 1));
    EXPECT_EQ(job.attempts(i).node_id(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(job.attempts(i).status(), JOB_STATUS_FAILED);
  }
  EXPECT_EQ(job.attempts(0).reason(), "exit_code");
  EXPECT_EQ(job.attempts(0).exit_code(), 1);
  EXPECT_EQ(job.attempts(0).started_at_ms(), 1100);
  EXPECT_EQ(job.attempts(0).finished_at_ms(), 2000);
  EXPECT_EQ(job.attempts(1).reason(), "exit_code");
  EXPECT_EQ(job.attempts(1).exit_code(), 2);
  EXPECT_EQ(job.attempts(1).assigned_at_ms(), 3000);
  EXPECT_EQ(job.attempts(2).reason(), "timeout");
  EXPECT_FALSE(job.attempts(2).has_exit_code());
  EXPECT_EQ(job.attempts(2).signal(), 15);
  EXPECT_TRUE(r.store().pending_queue().empty());

  // No fourth attempt.
  r.apply(assign_cmd("a", 4, 1, 8000));
  EXPECT_EQ(r.job("a").attempts_size(), 3);
}

TEST(JobRetries, ARetryThatSucceedsCompletesTheJob) {
  Replica r = with_job(Opt().retries(3));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, 1));
  r.apply(assign_cmd("a", 2, 1, 3000));
  r.apply(finished_cmd("a", 2, 1, 4000, 0));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_COMPLETED);
  EXPECT_EQ(job.exit_code(), 0);
  EXPECT_EQ(job.reason(), "");
  EXPECT_EQ(job.attempts(0).status(), JOB_STATUS_FAILED);
  EXPECT_EQ(job.attempts(1).status(), JOB_STATUS_COMPLETED);
}

TEST(JobRetries, WithoutRetriesAFailedAttemptFailsTheJob) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, std::nullopt, "spawn_error"));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_FAILED);
  EXPECT_EQ(r.job("a").attempts_size(), 1);
}

// ---------------------------------------------------------------------------------------------
// Lost attempts
// ---------------------------------------------------------------------------------------------

TEST(JobLost, LostRetryBackoffDoublesFromOneSecondAndIsCappedAtThirtySeconds) {
  EXPECT_EQ(lost_retry_backoff_ms(1), 1000);
  EXPECT_EQ(lost_retry_backoff_ms(2), 2000);
  EXPECT_EQ(lost_retry_backoff_ms(3), 4000);
  EXPECT_EQ(lost_retry_backoff_ms(5), 16000);
  EXPECT_EQ(lost_retry_backoff_ms(6), 30000);
  EXPECT_EQ(lost_retry_backoff_ms(1000), 30000);
}

TEST(JobLost, ALostAttemptIsRetriedAfterABackoffUntilLostRetriesRunOutEvenWithoutRetries) {
  Replica r = with_job(Opt().retries(0).lost_retries(2));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(started_cmd("a", 1, 1, 1100));
  r.apply(finished_cmd("a", 1, 1, 5000, std::nullopt, "lost"));
  {
    const auto& job = r.job("a");
    EXPECT_EQ(job.status(), JOB_STATUS_PENDING);
    EXPECT_EQ(job.not_before_ms(), 6000);  // 1 s after the first loss
    EXPECT_EQ(job.node_id(), 0u);
    EXPECT_EQ(job.attempts(0).status(), JOB_STATUS_FAILED);
    EXPECT_EQ(job.attempts(0).reason(), "lost");
    EXPECT_EQ(job.attempts(0).finished_at_ms(), 5000);
    EXPECT_EQ(r.store().running_on(1), 0u);
    EXPECT_EQ(pending_ids(r.store()), std::vector<std::string>{"a"});
  }
  r.apply(assign_cmd("a", 2, 2, 6000));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_RUNNING);
  EXPECT_EQ(r.job("a").attempt(), 2u);
  EXPECT_EQ(r.job("a").not_before_ms(), 0);
  r.apply(finished_cmd("a", 2, 2, 9000, std::nullopt, "lost"));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_PENDING);
  EXPECT_EQ(r.job("a").not_before_ms(), 11000);  // 2 s after the second
  r.apply(assign_cmd("a", 3, 3, 11000));
  r.apply(finished_cmd("a", 3, 3, 12000, std::nullopt, "lost"));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_FAILED);
  EXPECT_EQ(job.reason(), "lost");
  EXPECT_EQ(job.finished_at_ms(), 12000);
  EXPECT_EQ(job.attempts_size(), 3);
}

TEST(JobLost, WithoutLostRetriesALostAttemptFailsTheJob) {
  Replica r = with_job(Opt().retries(5).lost_retries(0));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, std::nullopt, "lost"));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_FAILED);
  EXPECT_EQ(r.job("a").reason(), "lost");
}

TEST(JobLost, AnAttemptItsNodeStoppedWhenCutOffCountsAsLostAndKeepsItsReason) {
  Replica r = with_job(Opt().retries(0).lost_retries(1));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(started_cmd("a", 1, 1, 1100));
  r.apply(finished_cmd("a", 1, 1, 5000, std::nullopt, "disconnected", 15));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_PENDING);
  EXPECT_EQ(r.job("a").not_before_ms(), 6000);
  EXPECT_EQ(r.job("a").attempts(0).reason(), "disconnected");
  r.apply(assign_cmd("a", 2, 2, 6000));
  r.apply(finished_cmd("a", 2, 2, 7000, std::nullopt, "lost"));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_FAILED) << "one lost retry, used by the first";
  EXPECT_EQ(r.job("a").reason(), "lost");
}

TEST(JobLost, ALostAttemptDoesNotGetAStartTimeItNeverReported) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 5000, std::nullopt, "lost"));
  EXPECT_EQ(r.job("a").attempts(0).started_at_ms(), 0);
  EXPECT_EQ(r.job("a").started_at_ms(), 0);
}

TEST(JobLost, KilledOnAJobThatWasNotCancelledIsTreatedAsLost) {
  Replica r = with_job(Opt().lost_retries(1));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, std::nullopt, "killed", 9));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_PENDING);
  EXPECT_EQ(r.job("a").not_before_ms(), 3000);
  EXPECT_EQ(r.job("a").attempts(0).reason(), "lost");
  r.apply(assign_cmd("a", 2, 1, 2000));
  r.apply(finished_cmd("a", 2, 1, 3000, std::nullopt, "killed", 9));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_FAILED);
  EXPECT_EQ(r.job("a").reason(), "lost");
}

TEST(JobLost, AFailureAfterALostRetryEndsAJobWithoutRetries) {
  Replica r = with_job(Opt().retries(0));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, std::nullopt, "lost"));
  r.apply(assign_cmd("a", 2, 2, 2000));
  r.apply(finished_cmd("a", 2, 2, 3000, 1));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_FAILED);
  EXPECT_EQ(r.job("a").reason(), "exit_code");
}

TEST(JobLost, LostAttemptsAndFailedExitsAreCountedApart) {
  Replica r = with_job(Opt().retries(1).lost_retries(1));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, 1));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_PENDING);
  r.apply(assign_cmd("a", 2, 1, 3000));
  r.apply(finished_cmd("a", 2, 1, 4000, std::nullopt, "lost"));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_PENDING) << "a loss does not use up --retries";
  EXPECT_EQ(r.job("a").not_before_ms(), 5000);
  r.apply(assign_cmd("a", 3, 2, 5000));
  r.apply(finished_cmd("a", 3, 2, 6000, 1));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_FAILED);
  EXPECT_EQ(r.job("a").reason(), "exit_code");
  EXPECT_EQ(r.job("a").attempts_size(), 3);
}

// ---------------------------------------------------------------------------------------------
// Cancel
// ---------------------------------------------------------------------------------------------

TEST(JobCancel, CancellingARunningJobEndsItAtOnce) {
  Replica r = with_job(Opt().retries(3));
  r.apply(assign_cmd("a", 1, 2, 1000));
  r.apply(started_cmd("a", 1, 2, 1100));
  ApplyResult res = r.apply(cancel_cmd("a", 2000));
  ASSERT_TRUE(res.status.is_ok());
  EXPECT_EQ(res.job.status(), JOB_STATUS_CANCELLED);
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_CANCELLED);
  EXPECT_EQ(job.finished_at_ms(), 2000);
  EXPECT_EQ(job.node_id(), 2u);  // where it ran
  EXPECT_EQ(job.attempts(0).status(), JOB_STATUS_CANCELLED);
  EXPECT_EQ(job.attempts(0).finished_at_ms(), 2000);
  EXPECT_EQ(r.store().running_on(2), 0u);
  EXPECT_TRUE(r.store().pending_queue().empty());
  EXPECT_EQ(r.store().finished_order().count({2000, "a"}), 1u);
}

TEST(JobCancel, AFinishedReportAfterCancelRecordsExitDetailsButTheJobStaysCancelled) {
  Replica r = with_job(Opt().retries(3));
  r.apply(assign_cmd("a", 1, 2, 1000));
  r.apply(started_cmd("a", 1, 2, 1100));
  r.apply(cancel_cmd("a", 2000));
  auto f = finished_msg("a", 1, 2, 2100, std::nullopt, "cancelled", 15);
  f.set_stdout_tail("partial");
  r.apply(finished_cmd(f));
  {
    const auto& job = r.job("a");
    EXPECT_EQ(job.status(), JOB_STATUS_CANCELLED);
    EXPECT_EQ(job.finished_at_ms(), 2000);
    EXPECT_EQ(job.signal(), 15);
    EXPECT_EQ(job.stdout_tail(), "partial");
    EXPECT_EQ(job.attempts_size(), 1);  // a cancelled job is never retried
    EXPECT_EQ(job.attempts(0).status(), JOB_STATUS_CANCELLED);
    EXPECT_EQ(job.attempts(0).signal(), 15);
    EXPECT_EQ(job.attempts(0).finished_at_ms(), 2000);
    EXPECT_EQ(r.store().finished_order().count({2000, "a"}), 1u);
    EXPECT_EQ(r.store().finished_order().size(), 1u);
  }
  // The details are recorded once.
  std::string before = r.store().snapshot();
  r.apply(finished_cmd("a", 1, 2, 2200, 0));
  EXPECT_EQ(r.store().snapshot(), before);
}

TEST(JobCancel, AnExitAfterCancelIsRecordedEvenWhenItIsASuccess) {
  Replica r = with_job();
  r.apply(assign_cmd("a", 1, 2, 1000));
  r.apply(cancel_cmd("a", 2000));
  r.apply(finished_cmd("a", 1, 2, 2100, 0));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_CANCELLED);
  EXPECT_EQ(r.job("a").exit_code(), 0);
  EXPECT_EQ(r.job("a").attempts(0).exit_code(), 0);
  EXPECT_EQ(r.job("a").attempts(0).status(), JOB_STATUS_CANCELLED);
}

TEST(JobCancel, KilledAfterCancelIsNotTreatedAsLost) {
  Replica r = with_job(Opt().retries(1));
  r.apply(assign_cmd("a", 1, 2, 1000));
  r.apply(cancel_cmd("a", 2000));
  r.apply(finished_cmd("a", 1, 2, 2100, std::nullopt, "killed", 9));
  EXPECT_EQ(r.job("a").status(), JOB_STATUS_CANCELLED);
  EXPECT_EQ(r.job("a").attempts_size(), 1);
  EXPECT_EQ(r.job("a").attempts(0).reason(), "");
}

TEST(JobCancel, CancellingAFinishedJobIsAnErrorAndChangesNothing) {
  Replica r;
  r.apply(submit_cmd("done"));
  r.apply(assign_cmd("done", 1, 1, 1000));
  r.apply(finished_cmd("done", 1, 1, 2000, 0));
  r.apply(submit_cmd("failed"));
  r.apply(assign_cmd("failed", 1, 1, 1000));
  r.apply(finished_cmd("failed", 1, 1, 2000, 1));
  std::string before = r.store().snapshot();
  r.store().take_changes();
  for (const char* id : {"done", "failed"}) {
    ApplyResult res = r.apply(cancel_cmd(id, 3000));
    EXPECT_FALSE(res.status.is_ok()) << id;
    EXPECT_NE(res.status.message().find("already finished"), std::string::npos) << id;
    EXPECT_EQ(res.job.id(), id);  // the answer still shows the job
  }
  ApplyResult missing = r.apply(cancel_cmd("nope", 3000));
  EXPECT_FALSE(missing.status.is_ok());
  EXPECT_EQ(r.store().snapshot(), before);
  EXPECT_TRUE(r.store().take_changes().empty());
}

TEST(JobCancel, CancellingAJobWaitingForItsRetryEndsItAndFencesTheOldAttempt) {
  Replica r = with_job(Opt().retries(2));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, 1));
  ASSERT_EQ(r.job("a").status(), JOB_STATUS_PENDING);
  r.apply(cancel_cmd("a", 2500));
  const auto& job = r.job("a");
  EXPECT_EQ(job.status(), JOB_STATUS_CANCELLED);
  EXPECT_EQ(job.finished_at_ms(), 2500);
  EXPECT_EQ(job.attempts(0).status(), JOB_STATUS_FAILED);  // its result is kept
  EXPECT_TRUE(r.store().pending_queue().empty());
  std::string before = r.store().snapshot();
  r.apply(finished_cmd("a", 1, 1, 2600, 0));
  r.apply(assign_cmd("a", 2, 1, 2600));
  EXPECT_EQ(r.store().snapshot(), before);
}

TEST(JobCancel, CancellingAPendingJobTakesItOutOfTheQueue) {
  Replica r;
  r.apply(submit_cmd("a"));
  r.apply(submit_cmd("b"));
  r.apply(cancel_cmd("a", 100));
  EXPECT_EQ(pending_ids(r.store()), std::vector<std::string>{"b"});
  EXPECT_EQ(r.job("a").attempts_size(), 0);
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 0), "");
}

// ---------------------------------------------------------------------------------------------
// Placement order
// ---------------------------------------------------------------------------------------------

TEST(JobQueue, PendingJobsAreOrderedByPriorityThenSubmission) {
  Replica r;
  r.apply(submit_cmd("low-1", Opt().priority(-1)));
  r.apply(submit_cmd("mid-1", Opt().priority(0)));
  r.apply(submit_cmd("high-1", Opt().priority(10)));
  r.apply(submit_cmd("mid-2", Opt().priority(0)));
  r.apply(submit_cmd("high-2", Opt().priority(10)));
  r.apply(submit_cmd("low-2", Opt().priority(-1)));
  EXPECT_EQ(pending_ids(r.store()),
            (std::vector<std::string>{"high-1", "high-2", "mid-1", "mid-2", "low-1", "low-2"}));
}

TEST(JobQueue, ARetriedJobKeepsItsPlaceBySubmission) {
  Replica r;
  r.apply(submit_cmd("a", Opt().retries(1)));
  r.apply(submit_cmd("b"));
  r.apply(assign_cmd("a", 1, 1, 1000));
  EXPECT_EQ(pending_ids(r.store()), std::vector<std::string>{"b"});
  r.apply(finished_cmd("a", 1, 1, 2000, 1));
  EXPECT_EQ(pending_ids(r.store()), (std::vector<std::string>{"a", "b"}));
}

TEST(JobQueue, TheExtremePrioritiesOrderCorrectly) {
  Replica r;
  r.apply(submit_cmd("zero", Opt().priority(0)));
  r.apply(submit_cmd("min", Opt().priority(INT32_MIN)));
  r.apply(submit_cmd("min+1", Opt().priority(INT32_MIN + 1)));
  r.apply(submit_cmd("max", Opt().priority(INT32_MAX)));
  EXPECT_EQ(pending_ids(r.store()), (std::vector<std::string>{"max", "zero", "min+1", "min"}));
  // And each leaves the queue again when it is placed.
  r.apply(assign_cmd("min", 1, 1, 10));
  r.apply(assign_cmd("max", 1, 1, 10));
  EXPECT_EQ(pending_ids(r.store()), (std::vector<std::string>{"zero", "min+1"}));
}

// ---------------------------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------------------------

TEST(JobRetention, RemoveDeletesOnlyFinishedJobsAndFreesTheirIdempotencyKeys) {
  Replica r;
  r.apply(submit_cmd("done", Opt().key("k-done")));
  r.apply(submit_cmd("running", Opt().key("k-running")));
  r.apply(submit_cmd("pending", Opt().key("k-pending")));
  r.apply(submit_cmd("cancelled"));
  r.apply(assign_cmd("done", 1, 1, 100));
  r.apply(finished_cmd("done", 1, 1, 200, 0));
  r.apply(assign_cmd("running", 1, 1, 100));
  r.apply(cancel_cmd("cancelled", 300));
  r.store().take_changes();

  r.apply(remove_cmd({"done", "running", "pending", "cancelled", "never-existed"}));
  EXPECT_EQ(as_set(r.store().take_changes()), (std::set<std::string>{"done", "cancelled"}));
  EXPECT_EQ(r.store().find("done"), nullptr);
  EXPECT_EQ(r.store().find("cancelled"), nullptr);
  EXPECT_EQ(r.store().size(), 2u);
  EXPECT_EQ(r.job("running").status(), JOB_STATUS_RUNNING);
  EXPECT_EQ(r.job("pending").status(), JOB_STATUS_PENDING);
  EXPECT_TRUE(r.store().finished_order().empty());
  EXPECT_EQ(running_ids(r.store(), 1), std::vector<std::string>{"running"});
  EXPECT_EQ(pending_ids(r.store()), std::vector<std::string>{"pending"});
  ListQuery all;
  EXPECT_EQ(r.store().list(all).total, 2u);

  // The freed key creates a new job; the live ones still answer with their job.
  ApplyResult again = r.apply(submit_cmd("done-2", Opt().key("k-done")));
  ASSERT_TRUE(again.status.is_ok());
  EXPECT_EQ(again.job.id(), "done-2");
  EXPECT_EQ(r.job("done-2").status(), JOB_STATUS_PENDING);
  EXPECT_EQ(r.apply(submit_cmd("x", Opt().key("k-running"))).job.id(), "running");
  EXPECT_EQ(r.apply(submit_cmd("y", Opt().key("k-pending"))).job.id(), "pending");
  EXPECT_EQ(r.store().size(), 3u);
  // A removed job's id can be submitted again.
  EXPECT_TRUE(r.apply(submit_cmd("done")).status.is_ok());
  EXPECT_EQ(r.job("done").status(), JOB_STATUS_PENDING);
}

TEST(JobRetention, RemovingTwiceIsHarmless) {
  Replica r = with_job();
  r.apply(cancel_cmd("a", 10));
  r.apply(remove_cmd({"a"}));
  r.store().take_changes();
  std::string before = r.store().snapshot();
  r.apply(remove_cmd({"a", "a"}));
  EXPECT_EQ(r.store().snapshot(), before);
  EXPECT_TRUE(r.store().take_changes().empty());
  EXPECT_EQ(r.store().size(), 0u);
}

TEST(JobRetention, FinishedOrderFollowsFinishTimesNotSubmissions) {
  Replica r;
  for (const char* id : {"a", "b", "c", "d"}) r.apply(submit_cmd(id));
  r.apply(assign_cmd("a", 1, 1, 100));
  r.apply(assign_cmd("b", 1, 1, 100));
  r.apply(finished_cmd("b", 1, 1, 500, 0));
  r.apply(cancel_cmd("c", 300));
  r.apply(finished_cmd("a", 1, 1, 900, 1));
  std::vector<std::pair<int64_t, std::string>> order(r.store().finished_order().begin(),
                                                     r.store().finished_order().end());
  EXPECT_EQ(order,
            (std::vector<std::pair<int64_t, std::string>>{{300, "c"}, {500, "b"}, {900, "a"}}));
  r.apply(remove_cmd({"c"}));
  EXPECT_EQ(r.store().finished_order().begin()->second, "b");
}

// ---------------------------------------------------------------------------------------------
// Snapshots and change tracking
// ---------------------------------------------------------------------------------------------

// A replica holding jobs in every state, keys and node slots.
Replica busy_replica() {
  Replica r;
  r.apply(slots_cmd({{1, 2}, {2, 4}, {3, 0}}));
  r.apply(submit_cmd("pending-lo", Opt().priority(-3).key("k1")));
  r.apply(submit_cmd("pending-hi", Opt().priority(3)));
  r.apply(submit_cmd("run-1", Opt().key("k2")));
  r.apply(submit_cmd("run-2"));
  r.apply(submit_cmd("run-3"));
  r.apply(submit_cmd("done"));
  r.apply(submit_cmd("failed"));
  r.apply(submit_cmd("cancelled", Opt().key("k3")));
  r.apply(submit_cmd("retrying", Opt().retries(2)));
  r.apply(assign_cmd("run-1", 1, 1, 100));
  r.apply(assign_cmd("run-2", 1, 2, 100));
  r.apply(assign_cmd("run-3", 1, 2, 100));
  r.apply(started_cmd("run-2", 1, 2, 150));
  r.apply(assign_cmd("done", 1, 1, 100));
  r.apply(finished_cmd("done", 1, 1, 200, 0));
  r.apply(assign_cmd("failed", 1, 2, 100));
  r.apply(finished_cmd("failed", 1, 2, 300, 7));
  r.apply(cancel_cmd("cancelled", 250));
  r.apply(assign_cmd("retrying", 1, 1, 100));
  r.apply(finished_cmd("retrying", 1, 1, 400, 1));
  return r;
}

void expect_same_indexes(const JobStore& a, const JobStore& b) {
  EXPECT_EQ(pending_ids(a), pending_ids(b));
  for (uint64_t node = 0; node <= 4; ++node) {
    EXPECT_EQ(running_ids(a, node), running_ids(b, node)) << "node " << node;
  }
  EXPECT_EQ(a.finished_order(), b.finished_order());
  EXPECT_EQ(a.node_slots(), b.node_slots());
  EXPECT_EQ(a.size(), b.size());
}

TEST(JobSnapshot, ARoundTripKeepsJobsKeysSlotsAndTheDerivedIndexes) {
  Replica r = busy_replica();
  JobStore copy;
  ASSERT_TRUE(copy.restore(r.store().snapshot()).is_ok());
  expect_same_indexes(r.store(), copy);
  EXPECT_EQ(canonical_snapshot(copy), canonical_snapshot(r.store()));
  EXPECT_EQ(pending_ids(copy), (std::vector<std::string>{"pending-hi", "retrying", "pending-lo"}));
  EXPECT_EQ(running_ids(copy, 2), (std::vector<std::string>{"run-2", "run-3"}));
  EXPECT_EQ(copy.node_slots(), (std::map<uint64_t, uint32_t>{{1, 2}, {2, 4}, {3, 0}}));
  EXPECT_EQ(copy.find("retrying")->not_before_ms(), 400 + retry_backoff_ms(2));
  for (const auto& id : {"run-1", "done", "retrying"}) {
    EXPECT_EQ(copy.find(id)->SerializeAsString(), r.job(id).SerializeAsString()) << id;
  }
  // Keys survive: resubmitting answers with the first job; listing order is kept.
  nomad_lite::Command again = submit_cmd("other", Opt().key("k2"));
  EXPECT_EQ(copy.apply({1, 100, raft::EntryType::kNormal, again.SerializeAsString()}).job.id(),
            "run-1");
  EXPECT_EQ(copy.list({}).jobs.front().id(), "retrying");
}

TEST(JobSnapshot, ARestoredReplicaGoesOnExactlyLikeTheOriginal) {
  Replica r = busy_replica();
  JobStore copy;
  ASSERT_TRUE(copy.restore(r.store().snapshot()).is_ok());
  size_t from = r.log().size();
  r.apply(finished_cmd("run-2", 1, 2, 500, 0));
  r.apply(finished_cmd("run-1", 1, 1, 600, std::nullopt, "lost"));
  r.apply(assign_cmd("pending-hi", 1, 3, 700));
  r.apply(assign_cmd("retrying", 2, 2, 700));
  r.apply(remove_cmd({"done", "failed", "run-2", "cancelled"}));
  r.apply(cancel_cmd("run-3", 800));
  r.apply(submit_cmd("new", Opt().key("k2")));
  r.apply(submit_cmd("new", Opt().key("k3")));
  for (size_t i = from; i < r.log().size(); ++i) copy.apply(r.log()[i]);
  expect_same_indexes(r.store(), copy);
  EXPECT_EQ(canonical_snapshot(copy), canonical_snapshot(r.store()));
  EXPECT_EQ(copy.find("new")->idempotency_key(), "k3");
}

TEST(JobSnapshot, RestoreReplacesEverythingAndReportsOldAndNewJobsAsChanged) {
  Replica source;
  source.apply(submit_cmd("x"));
  source.apply(slots_cmd({{7, 1}}));
  Replica r = busy_replica();
  r.store().take_changes();
  ASSERT_TRUE(r.store().restore(source.store().snapshot()).is_ok());
  std::set<std::string> changed = as_set(r.store().take_changes());
  EXPECT_TRUE(changed.count("x"));
  EXPECT_TRUE(changed.count("run-1"));
  EXPECT_TRUE(changed.count("done"));
  EXPECT_EQ(r.store().size(), 1u);
  EXPECT_EQ(r.store().find("run-1"), nullptr);
  EXPECT_EQ(r.store().running_on(1), 0u);
  EXPECT_TRUE(r.store().finished_order().empty());
  EXPECT_EQ(pending_ids(r.store()), std::vector<std::string>{"x"});
  EXPECT_EQ(r.store().node_slots(), (std::map<uint64_t, uint32_t>{{7, 1}}));
  // The old keys are gone too.
  nomad_lite::Command again = submit_cmd("fresh", Opt().key("k1"));
  EXPECT_EQ(r.store().apply({1, 100, raft::EntryType::kNormal, again.SerializeAsString()}).job.id(),
            "fresh");
}

TEST(JobSnapshot, AnImageTakenEarlierDoesNotChangeWithLaterApplies) {
  Replica r = with_job();
  JobStoreImage image = r.store().image();
  std::string bytes = image.serialize();
  r.apply(assign_cmd("a", 1, 1, 10));
  r.apply(finished_cmd("a", 1, 1, 20, 0));
  ASSERT_EQ(image.segments.size(), 1u);
  EXPECT_EQ(image.segments.at(0)->jobs().at(0).second->status(), JOB_STATUS_PENDING);
  EXPECT_EQ(image.serialize(), bytes);
}

TEST(JobSnapshot, TheStreamedEncodingParsesAsTheWholeMessage) {
  Replica r = busy_replica();
  nomad_lite::Command with_env = submit_cmd("with-env", Opt().key("k9"));
  (*with_env.mutable_submit()->mutable_job()->mutable_env())["GREETING"] = "hi";
  (*with_env.mutable_submit()->mutable_job()->mutable_env())["EMPTY"] = "";
  r.apply(with_env);
  JobStoreImage image = r.store().image();
  // The reference: every job copied into one message, serialized at once.
  nomad_lite::JobStoreSnapshot expected;
  for (const auto& segment : image.segments) {
    for (const auto& [index, job] : segment->jobs()) *expected.add_jobs() = *job;
  }
  for (const auto& [node, slots] : image.node_slots) {
    auto* n = expected.add_nodes();
    n->set_node_id(node);
    n->set_slots(slots);
  }
  expected.set_jobs_submitted(image.jobs_submitted);
  expected.set_jobs_finished(image.jobs_finished);
  ASSERT_GE(expected.jobs_size(), 3);

  nomad_lite::JobStoreSnapshot parsed;
  ASSERT_TRUE(parsed.ParseFromString(image.serialize()));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, expected))
      << parsed.DebugString() << "\nvs\n"
      << expected.DebugString();
}

TEST(JobChanges, TakeChangesReportsTheJobsEachEntryChangedOnce) {
  Replica r;
  r.apply(submit_cmd("a"));
  r.apply(submit_cmd("b"));
  EXPECT_EQ(as_set(r.store().take_changes()), (std::set<std::string>{"a", "b"}));
  EXPECT_TRUE(r.store().take_changes().empty());

  nomad_lite::Command batch;
  batch.mutable_updates()->set_at_ms(10);
  *batch.mutable_updates()->add_assign() = assign_msg("a", 1, 1);
  *batch.mutable_updates()->add_assign() = assign_msg("zzz", 1, 1);
  r.apply(batch);
  EXPECT_EQ(as_set(r.store().take_changes()), std::set<std::string>{"a"});

  r.apply(started_cmd("a", 1, 2, 20));  // stale: no change
  r.apply(slots_cmd({{1, 3}}));         // slots are not a job change
  EXPECT_TRUE(r.store().take_changes().empty());

  r.apply(cancel_cmd("b", 30));
  EXPECT_EQ(as_set(r.store().take_changes()), std::set<std::string>{"b"});
  r.apply(remove_cmd({"b"}));
  EXPECT_EQ(as_set(r.store().take_changes()), std::set<std::string>{"b"});
  r.apply(submit_cmd("c", Opt().key("k")));
  r.store().take_changes();
  r.apply(submit_cmd("d", Opt().key("k")));  // answered with c: nothing changes
  EXPECT_TRUE(r.store().take_changes().empty());
}

// ---------------------------------------------------------------------------------------------
// Pending reasons
// ---------------------------------------------------------------------------------------------

TEST(PendingReason, NoWorkerHasReportedYet) {
  Replica r = with_job();
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 0),
            "waiting for a worker to report to the leader");
}

TEST(PendingReason, EveryNodeHasZeroSlots) {
  Replica r = with_job();
  r.apply(slots_cmd({{1, 0}, {2, 0}}));
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 0),
            "no node runs jobs: every node has --worker-slots 0");
}

TEST(PendingReason, AllSlotsAreBusy) {
  Replica r;
  r.apply(slots_cmd({{1, 1}, {2, 2}, {3, 0}}));
  for (const char* id : {"r1", "r2", "r3", "waiting"}) r.apply(submit_cmd(id));
  r.apply(assign_cmd("r1", 1, 1, 10));
  r.apply(assign_cmd("r2", 1, 2, 10));
  EXPECT_EQ(r.store().pending_reason(r.job("waiting"), 0), "waiting to be placed");
  r.apply(assign_cmd("r3", 1, 2, 10));
  EXPECT_EQ(r.store().pending_reason(r.job("waiting"), 0),
            "waiting for a free slot: all 3 slots on 2 nodes are busy");
  // A finish frees a slot.
  r.apply(finished_cmd("r3", 1, 2, 20, 0));
  EXPECT_EQ(r.store().pending_reason(r.job("waiting"), 0), "waiting to be placed");
}

TEST(PendingReason, ARetryWaitsForItsBackoff) {
  Replica r = with_job(Opt().retries(3));
  r.apply(slots_cmd({{1, 4}}));
  r.apply(assign_cmd("a", 1, 1, 1000));
  r.apply(finished_cmd("a", 1, 1, 2000, 1));
  // not_before = 3000
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 2000),
            "attempt 1 failed (exit_code); retrying in 1s");
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 2999),
            "attempt 1 failed (exit_code); retrying in 1s");
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 3000), "waiting to be placed");
  r.apply(assign_cmd("a", 2, 1, 3000));
  r.apply(finished_cmd("a", 2, 1, 4000, std::nullopt, "timeout"));
  // not_before = 6000
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 4000),
            "attempt 2 failed (timeout); retrying in 2s");
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 4500),
            "attempt 2 failed (timeout); retrying in 2s");
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 5001),
            "attempt 2 failed (timeout); retrying in 1s");
}

TEST(PendingReason, OnlyPendingJobsHaveOne) {
  Replica r = with_job();
  r.apply(slots_cmd({{1, 1}}));
  r.apply(assign_cmd("a", 1, 1, 10));
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 0), "");
  r.apply(finished_cmd("a", 1, 1, 20, 0));
  EXPECT_EQ(r.store().pending_reason(r.job("a"), 0), "");
}

// ---------------------------------------------------------------------------------------------
// Replicas
// ---------------------------------------------------------------------------------------------

TEST(JobReplicas, TwoReplicasApplyingTheSameEntriesEndInTheSameState) {
  Replica leader = busy_replica();
  leader.apply(finished_cmd("run-1", 1, 1, 900, 0));
  leader.apply(remove_cmd({"done"}));
  leader.apply(submit_cmd("late", Opt().key("k1")));  // k1 is live: answered with pending-lo
  leader.apply(submit_cmd("later", Opt().key("k-new")));
  JobStore follower;
  std::vector<ApplyResult> results;
  for (const auto& entry : leader.log()) results.push_back(follower.apply(entry));
  EXPECT_EQ(follower.snapshot(), leader.store().snapshot());
  expect_same_indexes(leader.store(), follower);
  // The same log replayed from scratch gives the same answers too.
  JobStore third;
  for (size_t i = 0; i < leader.log().size(); ++i) {
    ApplyResult res = third.apply(leader.log()[i]);
    EXPECT_EQ(res.status.is_ok(), results[i].status.is_ok()) << i;
    EXPECT_EQ(res.job.SerializeAsString(), results[i].job.SerializeAsString()) << i;
  }
}

}  // namespace
}  // namespace nomad::jobs
