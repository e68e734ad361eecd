#pragma once

// Internals of the Executor, shared by executor.cc (the public methods, callable from any
// thread) and executor_loop.cc (the executor thread: spawning, the epoll loop, timers).

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "worker/executor.h"
#include "worker/output.h"
#include "worker/spawn.h"

namespace nomad::worker {

using SteadyTime = std::chrono::steady_clock::time_point;

// A file descriptor closed at scope exit.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// What other threads see of a queued or running attempt (under State::mu).
struct AttemptProgress {
  uint64_t written[2] = {0, 0};  // bytes in the stdout and stderr files
  bool capped[2] = {false, false};
};

// A request from another thread to the executor thread, served in arrival order.
struct Request {
  enum class Kind { kStart, kKill };
  Kind kind;
  ExecSpec spec;  // kKill: only spec.key
};

// A spawned attempt, owned by the executor thread.
struct Process {
  enum class Phase {
    kRunning,      // deadline: its timeout, if any
    kTerminating,  // SIGTERM sent; deadline: SIGKILL after the grace period
    kKilling,      // SIGKILL sent; no deadline
  };

  uint64_t id = 0;  // epoll events carry it: an event for a finished process finds nothing
  AttemptKey key;
  std::chrono::milliseconds timeout{0};
  pid_t pid = -1;  // also the process group id; -1 once reaped
  UniqueFd pidfd;
  UniqueFd pipes[2];  // read ends of stdout and stderr, -1 once at end of file
  std::unique_ptr<OutputSink> out[2];
  int64_t started_at_ms = 0;
  Phase phase = Phase::kRunning;
  EndReason reason = EndReason::kExited;  // kTimeout or kKilled once we began stopping it
  bool escalated = false;                 // SIGKILL after the grace period was needed
  SteadyTime deadline = SteadyTime::max();
  std::unique_ptr<AttemptCgroup> cgroup;  // null without cgroups
  uint64_t memory_limit = 0;              // for the error text of an oom
};

struct Executor::State {
  State(ExecutorOptions options, StartedFn on_started, FinishedFn on_finished);
  ~State();

  // --- callable from any thread ---
  void wake();  // the executor thread serves requests promptly
  // The attempt's paths (see Executor::attempt_dir).
  std::filesystem::path attempt_dir(const AttemptKey& key) const;
  std::filesystem::path output_file(const AttemptKey& key, bool from_stderr) const;
  // The attempt's directory exists: it ran on this node.
  bool has_attempt_dir(const AttemptKey& key) const;

  // --- executor thread only ---
  void run();
  int next_timeout_ms() const;
  bool serve_requests();  // false once stopping
  void spawn(ExecSpec spec);
  Status make_work_dir(const std::filesystem::path& work);
  void report_unstarted(const AttemptKey& key, std::string error);
  void on_event(uint64_t data);
  void on_output(Process& p, int stream);
  void drain_available(Process& p, int stream);  // at exit: what is in the pipe now, no more
  void publish_progress(const Process& p);
  void on_exit(Process& p);
  void finish(Process& p, ExecResult result);
  void close_pipe(Process& p, int stream);
  void terminate(Process& p, EndReason reason);
  void set_deadline(Process& p, SteadyTime when);
  void fire_deadlines();
  void shut_down();
  // Instead of run() when init_error is set: every start ends as a spawn error, reported on
  // this thread (never on the caller's, which may hold a lock the callback takes).
  void refuse_starts();
  std::string find_bwrap() const;
  // At the end of an attempt: kills what is left in its cgroup, puts its usage (and whether
  // the kernel killed it for memory) into `result`, and removes the cgroup (later, through
  // retiring, while it is still busy). Without a cgroup the usage is `rusage`'s.
  void release_cgroup(Process& p, const struct rusage& rusage, ExecResult* result);
  void retire(std::unique_ptr<AttemptCgroup> cgroup);  // removes it, now or later
  void retry_retiring();                               // another try at removing the busy cgroups

  ExecutorOptions options;         // root made absolute
  SpawnLimits limits;              // options' limits, lowered to what this process may set
  std::optional<Identity> run_as;  // options.job_user, looked up
  std::string namespace_init;      // jobs run under it (worker/namespaces.h); "": they do not
  StartedFn on_started;
  FinishedFn on_finished;
  std::string init_error;               // epoll or eventfd could not be created: every start fails
  std::string marker;                   // truncation_marker(options.output_cap)
  std::unique_ptr<CgroupTree> cgroups;  // null: limits are advisory
  std::string limits_note;              // where the cgroups are, or why there are none

  // Shared with other threads.
  mutable std::mutex mu;
  mutable std::condition_variable changed;         // output written or an attempt finished
  std::condition_variable refused;                 // init_error: a start to refuse, or stopping
  std::map<AttemptKey, AttemptProgress> attempts;  // queued or running
  std::deque<Request> requests;
  bool stopping = false;
  bool more_requests = false;  // executor thread: requests left after the last batch
  std::mutex fs_mu;            // creating attempt directories vs remove_output

  UniqueFd epoll_fd, wake_fd, devnull_fd;
  std::thread thread;

  // Executor thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Process>> processes;
  std::map<AttemptKey, uint64_t> process_ids;
  std::set<std::pair<SteadyTime, uint64_t>> deadlines;
  uint64_t next_id = 1;
  std::vector<char> buffer;
  // Cgroups of ended attempts not yet removable (a process in them still exiting), with the
  // tries left.
  std::vector<std::pair<std::unique_ptr<AttemptCgroup>, int>> retiring;
  SteadyTime next_memory_sample{};  // v2 without memory.peak: when to sample memory.current
};

bool valid_job_id(const std::string& job_id);

}  // namespace nomad::worker
