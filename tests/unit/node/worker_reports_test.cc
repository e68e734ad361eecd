// The Worker's reports to the leader: what it sends, and when. Real processes run under a
// temporary root; the sender records every report, and the tests wait on it with a deadline.

#include "worker/worker.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "../jobs/jobs_test_util.h"

namespace nomad::worker {
namespace {

using namespace std::chrono_literals;
using jobs::testing::assign_cmd;
using jobs::testing::submit_cmd;

class WorkerReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "nomad-worker-reports-XXXXXX").string();
    root_ = mkdtemp(pattern.data());
  }
  void TearDown() override {
    worker_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  void start(std::chrono::milliseconds start_report_delay) {
    WorkerOptions o;
    o.node_id = 1;
    o.slots = 2;
    o.report_interval = 10s;  // no heartbeat resends within a test: only news goes out
    o.start_report_delay = start_report_delay;
    o.executor.root = root_;
    worker_ = std::make_unique<Worker>(o, [this](const nomad_lite::WorkerReport& r) {
      std::lock_guard lock(mu_);
      reports_.push_back(r);
      cv_.notify_all();
      return true;
    });
    worker_->start();
  }

  // Submits and assigns the job to this node, as the applied log would.
  void run(const std::string& id, const std::string& command) {
    nomad_lite::Command submit = submit_cmd(id);
    submit.mutable_submit()->mutable_job()->set_command(command);
    store_.apply(
        raft::Entry{1, ++index_, raft::EntryType::kNormal, submit.SerializeAsString()});
    store_.apply(raft::Entry{1, ++index_, raft::EntryType::kNormal,
                             assign_cmd(id, 1, 1, 0).SerializeAsString()});
    worker_->on_applied(store_, store_.take_changes());
  }

  // Waits until some report satisfies `pred`; the index of the first that does, or -1.
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

  std::filesystem::path root_;
  jobs::JobStore store_;
  raft::Index index_ = 0;
  std::unique_ptr<Worker> worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nomad_lite::WorkerReport> reports_;
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

}  // namespace
}  // namespace nomad::worker
