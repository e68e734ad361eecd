#pragma once

// Helpers for Executor tests: a temporary root, and a recorder of the callbacks that tests
// wait on (condition variable with a deadline, never a sleep).

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "support/eventually.h"
#include "support/temp_dir.h"
#include "worker/executor.h"

namespace nomad::worker::testing {

using namespace std::chrono_literals;

// The executor's root: a scratch directory (a std::filesystem::path through dir()).
using TempRoot = nomad::testing::TempDir;

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// For state that no callback announces (processes of the host); everything else waits on the
// Recorder.
using nomad::testing::eventually;

// Records what the callbacks report; tests wait on it.
class Recorder {
 public:
  void started(const AttemptKey& key, int64_t at_ms) {
    std::lock_guard lock(mu_);
    if (started_.contains(key)) errors_.push_back("started twice: " + key.job_id);
    if (finished_.contains(key)) errors_.push_back("started after finished: " + key.job_id);
    started_[key] = at_ms;
    cv_.notify_all();
  }
  void finished(ExecResult result) {
    std::lock_guard lock(mu_);
    if (finished_.contains(result.key)) errors_.push_back("finished twice: " + result.key.job_id);
    if (result.reason != EndReason::kSpawnError && !started_.contains(result.key)) {
      errors_.push_back("finished without started: " + result.key.job_id);
    }
    finished_[result.key] = std::move(result);
    cv_.notify_all();
  }

  Executor::StartedFn started_fn() {
    return [this](const AttemptKey& k, int64_t ms) { started(k, ms); };
  }
  Executor::FinishedFn finished_fn() {
    return [this](ExecResult r) { finished(std::move(r)); };
  }

  std::optional<ExecResult> wait_finished(const AttemptKey& key,
                                          std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return finished_.contains(key); })) {
      return std::nullopt;
    }
    return finished_.at(key);
  }
  bool wait_started(const AttemptKey& key, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return started_.contains(key); });
  }
  bool wait_finished_count(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return finished_.size() >= n; });
  }
  bool was_started(const AttemptKey& key) {
    std::lock_guard lock(mu_);
    return started_.contains(key);
  }
  std::map<AttemptKey, ExecResult> finished_results() {
    std::lock_guard lock(mu_);
    return finished_;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<AttemptKey, int64_t> started_;
  std::map<AttemptKey, ExecResult> finished_;
  std::vector<std::string> errors_;
};

class ExecutorTest : public ::testing::Test {
 protected:
  void TearDown() override {
    executor_.reset();
    EXPECT_TRUE(recorder_.errors().empty()) << recorder_.errors().front();
  }

  ExecutorOptions options() {
    ExecutorOptions o;
    o.root = root_.dir() / "jobs";
    o.kill_grace = 300ms;
    return o;
  }
  Executor& executor(ExecutorOptions o) {
    executor_ =
        std::make_unique<Executor>(std::move(o), recorder_.started_fn(), recorder_.finished_fn());
    return *executor_;
  }
  Executor& executor() {
    if (!executor_) executor(options());
    return *executor_;
  }

  static ExecSpec spec(const std::string& job, const std::string& command, uint32_t attempt = 1) {
    ExecSpec s;
    s.key = {job, attempt};
    s.command = command;
    return s;
  }

  // Starts and waits for the end; fails the test if it does not end within 20 s.
  ExecResult run(ExecSpec s) {
    AttemptKey key = s.key;
    executor().start(std::move(s));
    auto result = recorder_.wait_finished(key);
    EXPECT_TRUE(result.has_value()) << "job " << key.job_id << " did not finish";
    return result.value_or(ExecResult{});
  }
  ExecResult run(const std::string& job, const std::string& command) {
    return run(spec(job, command));
  }

  // The attempt's working directory.
  std::filesystem::path attempt_dir(const std::string& job, uint32_t attempt = 1) {
    return root_.dir() / "jobs" / (job + "." + std::to_string(attempt));
  }
  // "stdout" or "stderr" of the attempt: next to its working directory, out of the job's reach.
  std::filesystem::path output_file(const std::string& job, const std::string& stream,
                                    uint32_t attempt = 1) {
    return root_.dir() / "jobs" / (job + "." + std::to_string(attempt) + "." + stream);
  }

  // Reads the attempt's stdout from `offset` until it contains `n` bytes or the job ends.
  std::string read_until(const AttemptKey& key, uint64_t offset, size_t n) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      auto r = executor().read_output(key, false, offset + out.size(), 1 << 20, 5s);
      EXPECT_TRUE(r.status.is_ok()) << r.status.message();
      out += r.data;
      if (r.finished || !r.status.is_ok()) break;
    }
    return out;
  }

  TempRoot root_;
  Recorder recorder_;
  std::unique_ptr<Executor> executor_;
};

}  // namespace nomad::worker::testing
