// The Worker's reports to the leader: what it sends, and when; and its lease: no start without
// a fresh ack, none of an attempt the leader gave up before acking, and a self-stop when the
// acks stop. Real processes run under a temporary root; the sender records every report (and
// acks it, as a leader would, unless told not to), and the tests wait on it with a deadline.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/job_commands.h"
#include "support/temp_dir.h"
#include "worker/worker.h"

namespace nomad::worker {
namespace {

using namespace std::chrono_literals;
using jobs::testing::assign_cmd;
using jobs::testing::slots_cmd;
using jobs::testing::submit_cmd;

class WorkerReportsTest : public ::testing::Test {
 protected:
  void TearDown() override { worker_.reset(); }  // its processes end before the directory goes

  void start(std::chrono::milliseconds start_report_delay,
             std::chrono::milliseconds lease_span = 60s, std::chrono::milliseconds kill_grace = 5s,
             std::chrono::milliseconds report_interval = 10s,
             std::chrono::milliseconds idle_report_interval = 0ms) {
    WorkerOptions o;
    o.node_id = 1;
    o.slots = 2;
    o.report_interval = report_interval;  // 10 s: no heartbeat within a test, only news
    o.idle_report_interval = idle_report_interval;
    o.start_report_delay = start_report_delay;
    o.lease_span = lease_span;
    o.executor.root = root_;
    o.executor.kill_grace = kill_grace;
    o.executor.job_user = job_user_;
    worker_ = std::make_unique<Worker>(o, [this](const nomad_lite::WorkerReport& r) {
      std::lock_guard lock(mu_);
      reports_.push_back(r);
      cv_.notify_all();
      if (acking_) worker_->on_ack(ack(r.seq(), ack_index_));
      return true;
    });
    worker_->start();
  }

  static nomad_lite::WorkerReportAck ack(uint64_t seq, uint64_t last_index) {
    nomad_lite::WorkerReportAck a;
    a.set_leader(true);
    a.set_seq(seq);
    a.set_term(1);
    a.set_last_index(last_index);
    return a;
  }

  void apply(const nomad_lite::Command& c) {
    store_.apply(raft::Entry{1, ++index_, raft::EntryType::kNormal, c.SerializeAsString()});
  }

  // Submits and assigns the job to this node, as the applied log would.
  void run(const std::string& id, const std::string& command, const jobs::testing::Opt& o = {}) {
    nomad_lite::Command submit = submit_cmd(id, o);
    submit.mutable_submit()->mutable_job()->set_command(command);
    apply(submit);
    apply(assign_cmd(id, 1, 1, 0));
    worker_->on_applied(store_, store_.take_changes(), index_);
  }

  size_t report_count() {
    std::lock_guard lock(mu_);
    return reports_.size();
  }
  bool wait_for_reports(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return reports_.size() >= n; });
  }

  uint64_t last_seq() {
    std::lock_guard lock(mu_);
    return reports_.empty() ? 0 : reports_.back().seq();
  }
  bool runs(const std::string& id) {
    for (const auto& key : worker_->executor().running()) {
      if (key.job_id == id) return true;
    }
    return false;
  }

  // Waits until some report satisfies `pred`; the index of the first that does, or -1.
  // Until every job in `ids` runs, for at most 10 s.
  bool eventually_running(const std::vector<std::string>& ids) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (const auto& id : ids) all = all && runs(id);
      if (all) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  template <class Pred>
  int wait_for_report(Pred pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    int found = -1;
    cv_.wait_for(lock, timeout, [&] {
      for (size_t i = 0; i < reports_.size(); ++i) {
        if (pred(reports_[i])) {
          found = static_cast<int>(i);
          return true;
        }
      }
      return false;
    });
    return found;
  }

  static bool has_start(const nomad_lite::WorkerReport& r, const std::string& id) {
    for (const auto& s : r.started()) {
      if (s.job_id() == id) return true;
    }
    return false;
  }
  static bool has_finish(const nomad_lite::WorkerReport& r, const std::string& id) {
    for (const auto& f : r.finished()) {
      if (f.job_id() == id) return true;
    }
    return false;
  }

  nomad::testing::TempDir dir_{"worker-reports"};
  const std::filesystem::path root_ = dir_.dir();
  jobs::JobStore store_;
  raft::Index index_ = 0;
  std::unique_ptr<Worker> worker_;
  std::string job_user_;  // the executor's --job-user ("": this process's user)
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nomad_lite::WorkerReport> reports_;
  std::atomic<bool> acking_{true};
  std::atomic<uint64_t> ack_index_{0};
};

TEST_F(WorkerReportsTest, AJobThatEndsBeforeItsStartIsDueIsReportedByItsFinishAlone) {
  start(5s);
  run("quick", "true");
  int finish = wait_for_report([](const auto& r) { return has_finish(r, "quick"); });
  ASSERT_GE(finish, 0) << "no finish reported";
  std::lock_guard lock(mu_);
  for (const auto& r : reports_) EXPECT_FALSE(has_start(r, "quick"));
  const auto& f = reports_[finish].finished(0);
  EXPECT_GT(f.started_at_ms(), 0) << "the finish carries the start time";
  EXPECT_EQ(f.exit_code(), 0);
}

TEST_F(WorkerReportsTest, AHeartbeatDoesNotSendAStartBeforeItIsDue) {
  start(/*start_report_delay=*/30s, 60s, 5s, /*report_interval=*/10ms);
  run("straddles", "sleep 0.3");
  int finish = wait_for_report([](const auto& r) { return has_finish(r, "straddles"); });
  ASSERT_GE(finish, 0) << "no finish reported";
  std::lock_guard lock(mu_);
  // About 30 heartbeats went out while it ran; none carried its start, so the leader proposes
  // one entry for the job (its finish, which carries the start time), not two.
  EXPECT_GE(finish, 5) << "too few heartbeats while the job ran to show anything";
  for (const auto& r : reports_) EXPECT_FALSE(has_start(r, "straddles"));
  EXPECT_GT(reports_[finish].finished(0).started_at_ms(), 0);
}

TEST_F(WorkerReportsTest, AnIdleWorkerHeartbeatsAtTheIdleIntervalAndABusyOneAtTheUsualOne) {
  start(/*start_report_delay=*/30s, 60s, 5s, /*report_interval=*/20ms,
        /*idle_report_interval=*/1s);
  ASSERT_TRUE(wait_for_reports(1)) << "no first heartbeat";
  // Idle: the next heartbeat a second after the first, not 20 ms (50 in that second).
  EXPECT_FALSE(wait_for_reports(3, 1500ms)) << "an idle worker heartbeats at report_interval";
  EXPECT_TRUE(wait_for_reports(2, 5s)) << "an idle worker stopped heartbeating";
  // An attempt arrives: heartbeats every 20 ms while it runs (it runs for 30 s: news alone
  // would be one report, its start being due only then).
  const size_t before = report_count();
  run("busy", "sleep 30");
  EXPECT_TRUE(wait_for_reports(before + 10, 5s)) << "a busy worker kept the idle interval";
}

TEST_F(WorkerReportsTest, AJobStillRunningWhenItsStartIsDueIsReportedStarted) {
  start(20ms);
  const auto spawned = std::chrono::steady_clock::now();
  run("slow", "sleep 30");
  int started = wait_for_report([](const auto& r) { return has_start(r, "slow"); });
  ASSERT_GE(started, 0) << "no start reported while the job runs";
  EXPECT_GE(std::chrono::steady_clock::now() - spawned, 20ms);
  std::lock_guard lock(mu_);
  for (const auto& r : reports_) EXPECT_FALSE(has_finish(r, "slow"));
}

TEST_F(WorkerReportsTest, RetentionDeletesTheOutputOfTheAttemptsThatRanHere) {
  start(20ms);
  run("gone", "echo out; echo err >&2");
  run("kept", "echo out");
  for (const char* id : {"gone", "kept"}) {
    ASSERT_GE(wait_for_report([id](const auto& r) { return has_finish(r, id); }), 0) << id;
    apply(jobs::testing::finished_cmd(id, 1, 1, 5000, 0));
  }
  worker_->on_applied(store_, store_.take_changes(), index_);
  const Executor& executor = worker_->executor();
  const AttemptKey gone{"gone", 1}, kept{"kept", 1};
  ASSERT_TRUE(std::filesystem::exists(executor.attempt_dir(gone)));
  ASSERT_TRUE(std::filesystem::exists(executor.output_file(gone, false)));
  ASSERT_TRUE(std::filesystem::exists(executor.output_file(gone, true)));
  apply(jobs::testing::remove_cmd({"gone"}));
  ASSERT_EQ(store_.find("gone"), nullptr) << "the store kept the finished job";
  worker_->on_applied(store_, store_.take_changes(), index_);
  EXPECT_FALSE(std::filesystem::exists(executor.attempt_dir(gone)));
  EXPECT_FALSE(std::filesystem::exists(executor.output_file(gone, false)));
  EXPECT_FALSE(std::filesystem::exists(executor.output_file(gone, true)));
  EXPECT_TRUE(std::filesystem::exists(executor.output_file(kept, false))) << "another job's";
}

// An executor that could not start (here: its job user does not exist) ends every attempt as
// a spawn error, from its own thread: the worker starts attempts under its lock, and the
// finish callback takes that lock too.
TEST_F(WorkerReportsTest, AnExecutorThatCannotStartFailsEveryAttemptWithoutBlockingTheWorker) {
  job_user_ = "no-such-user-for-nomad-tests";
  start(20ms);
  for (const char* id : {"a", "b", "c"}) run(id, "true");  // "c" waits for a slot
  for (const char* id : {"a", "b", "c"}) {
    int found = wait_for_report([id](const auto& r) {
      for (const auto& f : r.finished()) {
        if (f.job_id() == id) return f.error().find("cannot run jobs as") != std::string::npos;
      }
      return false;
    });
    EXPECT_GE(found, 0) << id << " was not reported failed with the executor's reason";
  }
}

// --- slots --------------------------------------------------------------------------------------

TEST_F(WorkerReportsTest, AnAttemptBeyondTheSlotsWaitsAndStartsWhenOneEndsWithoutAnotherApply) {
  start(20ms);
  const std::string gate = (root_ / "gate").string();
  // Two slots: "a" and "b" run; "c" is placed here too and waits for one of them.
  run("a", "while [ ! -e " + gate + " ]; do sleep 0.01; done");
  run("b", "sleep 30");
  run("c", "true");
  ASSERT_TRUE(eventually_running({"a", "b"}));
  EXPECT_FALSE(runs("c")) << "a third attempt ran on two slots";
  const uint64_t applied = index_;
  // "a" ends: "c" starts at once, with no entry applied in between.
  std::ofstream(gate).put('x');
  int finish = wait_for_report([](const auto& r) { return has_finish(r, "c"); });
  ASSERT_GE(finish, 0) << "the waiting attempt never ran";
  EXPECT_EQ(index_, applied);
  std::lock_guard lock(mu_);
  int64_t a_ended = 0, c_started = 0;
  for (const auto& r : reports_) {
    for (const auto& f : r.finished()) {
      if (f.job_id() == "a") a_ended = f.at_ms();
      if (f.job_id() == "c") c_started = f.started_at_ms();
    }
  }
  ASSERT_GT(a_ended, 0) << "c finished before a was reported finished";
  EXPECT_GE(c_started, a_ended) << "c started while both slots were busy";
}

// --- the lease ----------------------------------------------------------------------------------

TEST_F(WorkerReportsTest, AnAssignmentWaitsForAnAckAndStartsWhenOneArrives) {
  acking_ = false;
  start(20ms);
  ASSERT_TRUE(wait_for_reports(1)) << "no first report";
  const std::string marker = (root_ / "ran").string();
  size_t before = report_count();
  run("j", "touch " + marker);
  // The worker asks for a lease at once rather than at the next heartbeat.
  ASSERT_TRUE(wait_for_reports(before + 1));
  EXPECT_FALSE(runs("j")) << "started without any lease";
  worker_->on_ack(ack(last_seq(), index_));
  EXPECT_TRUE(runs("j") || std::filesystem::exists(marker)) << "the ack did not start it";
  ASSERT_GE(wait_for_report([](const auto& r) { return has_finish(r, "j"); }), 0);
  EXPECT_TRUE(std::filesystem::exists(marker));
}

TEST_F(WorkerReportsTest, AnAckWhoseIndexIsNotAppliedYetStartsNothingUntilItIs) {
  acking_ = false;
  start(20ms);
  ASSERT_TRUE(wait_for_reports(1));
  run("j", "sleep 30");
  // The leader acked with a last index two past what this node applied: it had proposed
  // entries this node has not seen.
  const raft::Index ack_at = index_ + 2;
  worker_->on_ack(ack(last_seq(), ack_at));
  EXPECT_FALSE(runs("j"));
  apply(slots_cmd({{1, 2}}));
  worker_->on_applied(store_, store_.take_changes(), index_);
  EXPECT_FALSE(runs("j"));
  apply(slots_cmd({{1, 3}}));
  ASSERT_EQ(index_, ack_at);
  worker_->on_applied(store_, store_.take_changes(), index_);
  EXPECT_TRUE(runs("j")) << "applied up to the ack's index: the attempt is current";
}

TEST_F(WorkerReportsTest, AnAttemptTheLeaderDeclaredLostBeforeItsAckNeverStarts) {
  // A node catching up after a partition: it has applied the assignment but not yet the
  // verdict the leader proposed on it before acking this node's report.
  acking_ = false;
  start(20ms);
  ASSERT_TRUE(wait_for_reports(1));
  const std::string marker = (root_ / "ran").string();
  run("old", "touch " + marker, jobs::testing::Opt().lost_retries(1));
  const raft::Index verdict_at = index_ + 1;
  worker_->on_ack(ack(last_seq(), verdict_at));
  EXPECT_FALSE(runs("old"));
  apply(jobs::testing::finished_cmd("old", 1, 1, 5000, std::nullopt, "lost"));
  ASSERT_EQ(index_, verdict_at);
  worker_->on_applied(store_, store_.take_changes(), index_);
  EXPECT_FALSE(runs("old")) << "started an attempt already declared lost";
  worker_->on_ack(ack(last_seq(), index_));  // fresh lease, fully applied: still nothing
  EXPECT_FALSE(runs("old"));
  // Attempt 2 goes elsewhere; this node has nothing to run.
  apply(assign_cmd("old", 2, 3, 6000));
  worker_->on_applied(store_, store_.take_changes(), index_);
  EXPECT_FALSE(runs("old"));
  EXPECT_FALSE(std::filesystem::exists(marker));
  std::lock_guard lock(mu_);
  for (const auto& r : reports_) EXPECT_FALSE(has_start(r, "old") || has_finish(r, "old"));
}

TEST_F(WorkerReportsTest, AnAttemptStartedWhileTheKeeperWaitsIsStoppedWhenTheLeaseRunsOut) {
  start(20ms, /*lease_span=*/600ms, /*kill_grace=*/200ms);
  ASSERT_TRUE(wait_for_reports(1));
  run("first", "sleep 30");
  ASSERT_TRUE(eventually_running({"first"}));  // the keeper now waits for the lease's end
  run("second", "sleep 30");
  ASSERT_TRUE(eventually_running({"second"}));
  acking_ = false;  // no renewal from here on
  for (const char* id : {"first", "second"}) {
    int at = wait_for_report([&](const auto& r) { return has_finish(r, id); }, 10s);
    ASSERT_GE(at, 0) << id << " not stopped after its lease ran out";
    std::lock_guard lock(mu_);
    for (const auto& f : reports_[at].finished()) {
      if (f.job_id() == id) {
        EXPECT_EQ(f.reason(), "disconnected") << id;
      }
    }
  }
}

TEST_F(WorkerReportsTest, WhenTheLeaseRunsOutTheWorkerStopsItsAttemptAndSaysWhy) {
  acking_ = false;
  start(20ms, /*lease_span=*/400ms, /*kill_grace=*/300ms);
  ASSERT_TRUE(wait_for_reports(1));
  size_t before = report_count();
  const auto not_after_send = std::chrono::steady_clock::now();
  // Ignores SIGTERM: only the SIGKILL after --kill-grace ends it.
  run("stop", "trap '' TERM; while :; do sleep 0.05; done");
  run("keep", "sleep 30", jobs::testing::Opt().keep_running());
  ASSERT_TRUE(wait_for_reports(before + 1));  // asks for a lease: sent after not_after_send
  worker_->on_ack(ack(last_seq(), index_));   // the leader's last ack
  ASSERT_TRUE(runs("stop"));
  ASSERT_TRUE(runs("keep"));

  int at = wait_for_report([](const auto& r) { return has_finish(r, "stop"); }, 10s);
  ASSERT_GE(at, 0) << "not stopped after its lease ran out";
  const auto ended = std::chrono::steady_clock::now();
  EXPECT_GE(ended - not_after_send, 400ms + 300ms) << "SIGKILL came before lease + grace";
  EXPECT_LT(ended - not_after_send, 5s);
  nomad_lite::JobFinished f;
  {
    std::lock_guard lock(mu_);
    for (const auto& x : reports_[at].finished()) {
      if (x.job_id() == "stop") f = x;
    }
  }
  EXPECT_EQ(f.reason(), "disconnected");
  EXPECT_NE(f.error().find("no leader acknowledged its reports for"), std::string::npos)
      << f.error();
  EXPECT_EQ(f.signal(), 9);
  EXPECT_TRUE(runs("keep")) << "a keep-running job was stopped";
}

}  // namespace
}  // namespace nomad::worker
