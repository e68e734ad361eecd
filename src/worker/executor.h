#pragma once

// The Executor runs job processes on this node: one attempt of one job is `/bin/sh -c CMD` in
// its own process group, with a clean environment, resource limits, a timeout and output
// captured to files. It knows nothing of Raft: the Worker tells it what to start and kill and
// reports what the callbacks say.
//
// Layout on disk, per attempt: <root>/<job_id>.<attempt>/ is the job's working directory and
// HOME; its output goes to <root>/<job_id>.<attempt>.stdout and .stderr, next to it, each
// created when the job first writes to it (a silent job costs one directory and no file). With a
// job_user the working directory belongs to that user, while everything else stays the server's
// (the job writes its output through pipes, never to the files).
//
// One thread per Executor owns every process, pipe and timer (an epoll loop over the pipes,
// a pidfd per process and an eventfd for requests). Public methods may be called from any
// thread; they queue requests for that thread or read state under a lock.

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/isolation.h"
#include "common/status.h"
#include "worker/cgroup.h"

namespace nomad::worker {

using common::Isolation;

struct AttemptKey {
  std::string job_id;
  uint32_t attempt = 0;

  bool operator==(const AttemptKey&) const = default;
  auto operator<=>(const AttemptKey&) const = default;
};

struct ExecutorOptions {
  std::filesystem::path root;  // <data-dir>/jobs
  Isolation isolation = Isolation::kRaw;
  // SIGTERM to the process group at a timeout or kill(), SIGKILL this much later.
  std::chrono::milliseconds kill_grace{5000};
  // Per stream. Beyond it the file ends with "\n[nomad-lite: output truncated at 10 MiB]\n"
  // and further output is read and discarded, so the job never blocks on a full pipe.
  uint64_t output_cap = 10 << 20;
  size_t tail_bytes = 64 << 10;  // kept in memory per stream for the ExecResult
  // Resource limits of every job (soft and hard). Without root a limit above the server's own
  // hard limit is lowered to it. RLIMIT_NPROC is not enforced for root; with a job_user it
  // counts every process of that user, across jobs.
  rlim_t max_open_files = 4096;
  rlim_t max_processes = 4096;
  rlim_t max_core_size = 0;
  // The shell (tests point it at a missing file to see a spawn error).
  std::string shell = "/bin/sh";
  // Bubblewrap for Isolation::kSandbox; empty: looked up in /usr/bin, /usr/local/bin, /bin.
  std::string bwrap;
  // Every job (and bubblewrap, in the sandbox) runs as this user, with its groups; USER and
  // LOGNAME name it. Looked up once, at construction. Needs a server running as root.
  // Empty: jobs run as the server's own user.
  std::string job_user;
  // On a server run as root, each job runs under nomad-lite-init in its own PID and mount
  // namespace with its own /proc (worker/namespaces.h). The init: "" for nomad-lite-init next
  // to the running binary. Off, or unavailable: plain process groups.
  bool job_namespaces = true;
  std::string init_program;
  // Each attempt in a cgroup of its own (worker/cgroup.h), with the job's CPU and memory
  // limits, where the server may create cgroups; else limits are advisory (logged at start).
  bool job_cgroups = true;
  CgroupSources cgroup_sources;  // tests point it at a fake tree
  // Hears each job's process group on the executor thread: once spawned (alive) and again
  // just before its leader is reaped (until then the id cannot be reused). Without the
  // executor's lock; keep it short. The worker's lease watchdog uses it.
  std::function<void(const AttemptKey& key, pid_t group, bool alive)> on_group;
};

struct ExecSpec {
  AttemptKey key;
  std::string command;                     // run as /bin/sh -c command
  std::map<std::string, std::string> env;  // the user's --env values
  std::chrono::milliseconds timeout{0};    // 0: none
  CgroupLimits resources;                  // enforced where cgroups are (0: no limit)
};

// How an attempt's process ended, as far as the executor had a hand in it.
enum class EndReason {
  kExited,      // on its own: exited, or died of a signal it did not get from us
  kTimeout,     // stopped at its timeout
  kKilled,      // stopped because kill() was called
  kSpawnError,  // never started
  kOom,         // the kernel killed it (or a process of it) at its memory limit
};

struct ExecResult {
  AttemptKey key;
  std::optional<int> exit_code;  // set when the process exited
  int signal = 0;                // set when a signal ended it
  EndReason reason = EndReason::kExited;
  // Readable, "" for exit code 0: "exited with code 3", "timed out after 1s",
  // "cannot execute /bin/sh: No such file or directory", ...
  std::string error;
  std::string stdout_tail, stderr_tail;                     // the last tail_bytes of each file
  bool stdout_truncated = false, stderr_truncated = false;  // the tail is not all the output
  int64_t started_at_ms = 0, finished_at_ms = 0;            // unix ms
  // From its cgroup, else from wait4's rusage (largest resident set of one process); 0 when
  // not measured (never started).
  uint64_t peak_memory_bytes = 0;
  uint64_t cpu_time_ms = 0;  // user + system
};

class Executor {
 public:
  using StartedFn = std::function<void(const AttemptKey&, int64_t started_at_ms)>;
  using FinishedFn = std::function<void(ExecResult)>;

  // The callbacks run on the executor's thread, without its lock (they may call back into
  // the Executor), and must be cheap: the next spawn waits for them. on_started comes before
  // on_finished for the same attempt; an attempt that could not start gets only on_finished.
  Executor(ExecutorOptions options, StartedFn on_started, FinishedFn on_finished);
  // SIGKILLs every process group still running, reaps them and joins the thread. No callback
  // runs once the destructor has begun.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues the spawn on the executor thread and returns. A failure to start ends as
  // on_finished with reason kSpawnError. A key already queued or running is ignored.
  void start(ExecSpec spec);
  // SIGTERM to the process group, SIGKILL after kill_grace; reason kKilled. No-op for an
  // attempt unknown or finished, or one already stopping for its timeout.
  void kill(const AttemptKey& key);
  // Attempts queued or running, not yet finished (on_finished not yet called).
  std::vector<AttemptKey> running() const;
  // The attempt's directory exists: it was spawned before, maybe by an earlier process of
  // this node. Used after a restart so that an attempt never runs twice.
  bool was_started(const AttemptKey& key) const;

  struct ReadResult {
    Status status;
    std::string data;
    bool finished = false;   // the attempt is not running and data reached the end of the file
    bool truncated = false;  // the file was cut at the output cap (it ends with the marker)
  };
  // Bytes [offset, offset + max) of the attempt's stdout (stderr if from_stderr), read from
  // the file. When wait_for > 0, no byte at `offset` yet and the attempt still running, waits
  // up to wait_for for output or the end of the attempt (woken by the output pump, no polling).
  ReadResult read_output(const AttemptKey& key, bool from_stderr, uint64_t offset, size_t max,
                         std::chrono::milliseconds wait_for) const;
  // Retention: deletes the attempt's directory and its output files. No-op while the
  // attempt is queued or running.
  void remove_output(const AttemptKey& key);

  // 1 or 2: attempts run in cgroups of that version and their limits are enforced; 0: the
  // limits are advisory (see limits_note()).
  int cgroup_version() const;
  // Where the cgroups are, or why there are none (as logged at start).
  std::string limits_note() const;

  // <root>/<job_id>.<attempt>: one directory per attempt, made with a single mkdir; empty when
  // the job id cannot be part of a file name.
  std::filesystem::path attempt_dir(const AttemptKey& key) const;
  // <root>/<job_id>.<attempt>.stdout (or .stderr), next to the directory and out of the job's
  // reach; empty when attempt_dir() is.
  std::filesystem::path output_file(const AttemptKey& key, bool from_stderr) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace nomad::worker
