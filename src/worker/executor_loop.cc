// The executor thread: spawns attempts, pumps their output into files, notices their exit
// through a pidfd, and enforces timeouts and kills. It owns every process, pipe and timer;
// other threads reach it through State::requests and the eventfd.

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <system_error>

#include "common/duration.h"
#include "common/errno_text.h"
#include "common/log.h"
#include "common/unix_time.h"
#include "worker/executor_state.h"
#include "worker/namespaces.h"

namespace nomad::worker {

namespace {

constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr size_t kRequestsPerBatch = 64;  // then look at the pipes again
constexpr int kReadsPerWakeup = 4;        // 256 KiB: a chatty job does not starve the others
// A cgroup whose processes are still exiting: tried again every 10 ms, for up to 10 s.
constexpr auto kRetireEvery = std::chrono::milliseconds(10);
constexpr int kRetireTries = 1000;
constexpr auto kMemorySampleEvery = std::chrono::seconds(1);

std::string printable(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '\0' ? std::string("\\0") : std::string(1, c);
  return out;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

uint64_t event_data(uint64_t id, int kind) { return id << 2 | static_cast<uint64_t>(kind); }
constexpr int kExitEvent = 0;  // 1 and 2: output on stdout and stderr

// The whole environment of a job: nothing of the server's. HOME is the work directory even
// with a job user: a place the job can always write (nobody's home is /nonexistent), removed
// with the job's output. --env values may override PATH, HOME, LANG, USER and LOGNAME.
Status job_environment(const ExecSpec& spec, const std::string& work, const Identity* user,
                       std::vector<std::string>* out) {
  std::map<std::string, std::string> vars = {{"PATH", kPath}, {"HOME", work}, {"LANG", "C.UTF-8"}};
  if (user) vars["USER"] = vars["LOGNAME"] = user->name;
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos ||
        name.find('\0') != std::string::npos) {
      return Status::error("'" + printable(name) + "' is not a valid environment variable name");
    }
    if (value.find('\0') != std::string::npos) {
      return Status::error("the value of environment variable " + name + " contains a NUL byte");
    }
    vars[name] = value;
  }
  vars["NOMAD_LITE_JOB_ID"] = spec.key.job_id;
  vars["NOMAD_LITE_ATTEMPT"] = std::to_string(spec.key.attempt);
  out->clear();
  out->reserve(vars.size());
  for (const auto& [name, value] : vars) out->push_back(name + "=" + value);
  return Status::ok();
}

}  // namespace

void Executor::State::run() {
  epoll_event events[64];
  while (true) {
    int n = epoll_wait(epoll_fd.get(), events, 64, next_timeout_ms());
    if (n < 0) {
      if (errno != EINTR) spdlog::error("executor: epoll_wait: {}", common::errno_text(errno));
      n = 0;
    }
    for (int i = 0; i < n; ++i) on_event(events[i].data.u64);
    fire_deadlines();
    if (!retiring.empty()) retry_retiring();
    if (cgroups && cgroups->version() == 2 && !processes.empty() &&
        std::chrono::steady_clock::now() >= next_memory_sample) {
      for (auto& [id, p] : processes) {
        if (p->cgroup) p->cgroup->sample_memory();
      }
      next_memory_sample = std::chrono::steady_clock::now() + kMemorySampleEvery;
    }
    if (!serve_requests()) break;
  }
  shut_down();
}

int Executor::State::next_timeout_ms() const {
  if (more_requests) return 0;
  int64_t limit = INT_MAX;
  if (!retiring.empty()) limit = kRetireEvery.count();
  if (cgroups && cgroups->version() == 2 && !processes.empty()) {
    limit = std::min<int64_t>(
        limit, std::chrono::duration_cast<std::chrono::milliseconds>(kMemorySampleEvery).count());
  }
  if (deadlines.empty()) return limit == INT_MAX ? -1 : static_cast<int>(limit);
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadlines.begin()->first -
                                                           std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(wait.count(), 0, limit));
}

bool Executor::State::serve_requests() {
  std::vector<Request> batch;
  {
    std::lock_guard lock(mu);
    if (stopping) return false;
    size_t n = std::min(requests.size(), kRequestsPerBatch);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(requests.front()));
      requests.pop_front();
    }
    more_requests = !requests.empty();
  }
  for (Request& r : batch) {
    if (r.kind == Request::Kind::kStart) {
      spawn(std::move(r.spec));
    } else if (auto it = process_ids.find(r.spec.key); it != process_ids.end()) {
      terminate(*processes.at(it->second), EndReason::kKilled);
    }
  }
  return true;
}

void Executor::State::spawn(ExecSpec spec) {
  if (spec.command.find('\0') != std::string::npos) {
    return report_unstarted(spec.key, "the command contains a NUL byte");
  }
  if (!valid_job_id(spec.key.job_id)) {
    return report_unstarted(spec.key,
                            "'" + printable(spec.key.job_id) + "' cannot name a directory");
  }
  const std::filesystem::path work = attempt_dir(spec.key);

  SpawnRequest request;
  request.cwd = work.string();
  request.limits = limits;
  request.run_as = run_as;
  if (Status s = job_environment(spec, request.cwd, run_as ? &*run_as : nullptr, &request.env);
      !s) {
    return report_unstarted(spec.key, s.message());
  }
  if (options.isolation == Isolation::kSandbox) {
    request.program = find_bwrap();
    if (request.program.empty()) {
      return report_unstarted(spec.key,
                              "the sandbox executor needs bubblewrap (apt-get install bubblewrap)");
    }
    // Read-only host, private /dev, /proc and /tmp, writable work dir only, no network, its
    // own pid namespace (everything in it dies with it), a new session (no TIOCSTI into a
    // terminal of the server). With a job user bubblewrap itself runs as that user and builds
    // the sandbox in a user namespace of its own, in which the job keeps that uid.
    // clang-format off
    request.argv = {request.program,
                    "--ro-bind", "/", "/",
                    "--dev", "/dev",
                    "--proc", "/proc",
                    "--tmpfs", "/tmp",
                    "--bind", request.cwd, request.cwd,
                    "--chdir", request.cwd,
                    "--unshare-net", "--unshare-pid", "--unshare-ipc",
                    "--die-with-parent", "--new-session",
                    "--", options.shell, "-c", spec.command};
    // clang-format on
  } else if (!namespace_init.empty()) {
    // The init enters the namespaces, mounts /proc and then drops to the job user itself.
    if (access(options.shell.c_str(), X_OK) != 0) {  // else only the init would see it
      return report_unstarted(spec.key,
                              "cannot execute " + options.shell + ": " + common::errno_text(errno));
    }
    request.program = namespace_init;
    request.shown_as = options.shell;
    request.argv =
        init_argv(namespace_init, run_as ? &*run_as : nullptr, {options.shell, "-c", spec.command});
    request.run_as.reset();
  } else {
    request.program = options.shell;
    request.argv = {options.shell, "-c", spec.command};
  }

  if (Status s = make_work_dir(work); !s) return report_unstarted(spec.key, s.message());

  auto p = std::make_unique<Process>();
  p->id = next_id++;
  p->key = spec.key;
  p->timeout = spec.timeout;
  UniqueFd write_ends[2];
  for (int stream = 0; stream < 2; ++stream) {
    p->out[stream] = std::make_unique<OutputSink>(options.output_cap, options.tail_bytes);
    p->out[stream]->set_path(output_file(spec.key, stream == 1));
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      return report_unstarted(spec.key, "cannot create a pipe: " + common::errno_text(errno));
    }
    p->pipes[stream].reset(fds[0]);
    write_ends[stream].reset(above_stdio(fds[1]));
    if (write_ends[stream].get() < 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) {
      return report_unstarted(spec.key, "cannot create a pipe: " + common::errno_text(errno));
    }
  }
  request.stdin_fd = devnull_fd.get();
  request.stdout_fd = write_ends[0].get();
  request.stderr_fd = write_ends[1].get();
  if (cgroups) {
    std::string error;
    p->cgroup = cgroups->make_attempt("attempt-" + std::to_string(p->id), spec.resources, &error);
    const bool limited = spec.resources.memory_bytes > 0 || spec.resources.cpu > 0;
    if (!p->cgroup && limited) return report_unstarted(spec.key, error);
    // Without limits the cgroup only measures: the job runs (rusage measures it instead).
    if (!p->cgroup) {
      common::log_warn("executor: " + error + "; the job runs without one",
                       {{"job_id", spec.key.job_id}, {"attempt", spec.key.attempt}});
    }
  }
  if (p->cgroup) {
    request.cgroup_fds = p->cgroup->join_fds();
    p->memory_limit = spec.resources.memory_bytes;
  }

  SpawnOutcome outcome = spawn_process(request);
  write_ends[0].reset();
  write_ends[1].reset();
  if (p->cgroup) p->cgroup->close_join_fds();
  if (outcome.pid <= 0) {
    if (p->cgroup) retire(std::move(p->cgroup));
    return report_unstarted(spec.key, outcome.error);
  }
  p->pid = outcome.pid;
  p->started_at_ms = common::unix_now_ms();
  const SteadyTime started = std::chrono::steady_clock::now();

  p->pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, p->pid, 0)));
  bool watched = p->pidfd.get() >= 0;
  for (int kind = 0; watched && kind < 3; ++kind) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = event_data(p->id, kind);
    int fd = kind == kExitEvent ? p->pidfd.get() : p->pipes[kind - 1].get();
    watched = epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  if (!watched) {
    std::string why = common::errno_text(errno);
    ::kill(-p->pid, SIGKILL);
    siginfo_t info;
    while (waitid(P_PID, p->pid, &info, WEXITED) != 0 && errno == EINTR) {
    }
    for (auto& pipe : p->pipes) {
      if (pipe.get() >= 0) epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, pipe.get(), nullptr);
    }
    if (p->pidfd.get() >= 0) epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, p->pidfd.get(), nullptr);
    if (p->cgroup) {
      p->cgroup->kill_all();
      retire(std::move(p->cgroup));
    }
    return report_unstarted(spec.key, "cannot watch the job process: " + why);
  }

  Process& ref = *p;
  process_ids[p->key] = p->id;
  processes.emplace(p->id, std::move(p));
  if (ref.timeout > std::chrono::milliseconds(0)) set_deadline(ref, started + ref.timeout);
  if (options.on_group) options.on_group(ref.key, ref.pid, true);
  if (on_started) on_started(ref.key, ref.started_at_ms);
}

Status Executor::State::make_work_dir(const std::filesystem::path& work) {
  std::lock_guard fs_lock(fs_mu);
  // One mkdir in the common case: on ext4, a job directory with the attempt's inside it cost
  // four times as much (create_directories would also stat every component first).
  if (mkdir(work.c_str(), 0700) != 0) {  // the job's alone (its user's, below)
    std::error_code ec;
    std::filesystem::create_directories(work, ec);  // the root is missing, or a real error
    if (ec) {
      return Status::error("cannot create the work directory " + work.string() + ": " +
                           ec.message());
    }
  }
  // Only `work` becomes the job user's: the directory that holds the output files stays the
  // server's, so the job cannot replace or truncate what it printed.
  if (run_as && lchown(work.c_str(), run_as->uid, run_as->gid) != 0) {
    return Status::error("cannot give the work directory " + work.string() + " to user " +
                         run_as->name + ": " + common::errno_text(errno));
  }
  return Status::ok();
}

void Executor::State::report_unstarted(const AttemptKey& key, std::string error) {
  ExecResult result;
  result.key = key;
  result.reason = EndReason::kSpawnError;
  result.error = std::move(error);
  result.started_at_ms = result.finished_at_ms = common::unix_now_ms();
  spdlog::debug("executor: job {} attempt {}: {}", key.job_id, key.attempt, result.error);
  {
    std::lock_guard lock(mu);
    attempts.erase(key);
  }
  changed.notify_all();
  if (on_finished) on_finished(std::move(result));
}

std::string Executor::State::find_bwrap() const {
  if (!options.bwrap.empty()) return access(options.bwrap.c_str(), X_OK) == 0 ? options.bwrap : "";
  for (const char* candidate : {"/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

void Executor::State::on_event(uint64_t data) {
  if (data == 0) {
    uint64_t count;
    ssize_t n = ::read(wake_fd.get(), &count, sizeof count);
    (void)n;  // the requests are served after the events in any case
    return;
  }
  auto it = processes.find(data >> 2);
  if (it == processes.end()) return;  // finished earlier in this batch
  int kind = static_cast<int>(data & 3);
  if (kind == kExitEvent) {
    on_exit(*it->second);
  } else {
    on_output(*it->second, kind - 1);
  }
}

void Executor::State::on_output(Process& p, int stream) {
  for (int i = 0; i < kReadsPerWakeup && p.pipes[stream].get() >= 0; ++i) {
    ssize_t n = ::read(p.pipes[stream].get(), buffer.data(), buffer.size());
    if (n > 0) {
      p.out[stream]->write(std::string_view(buffer.data(), static_cast<size_t>(n)));
      if (static_cast<size_t>(n) < buffer.size()) break;  // the pipe is empty now
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    close_pipe(p, stream);  // end of file: every writer closed it
  }
  publish_progress(p);
}

void Executor::State::drain_available(Process& p, int stream) {
  int fd = p.pipes[stream].get();
  if (fd < 0) return;
  // Only what is in the pipe now: a grandchild still holding it open may write forever.
  int available = 0;
  if (ioctl(fd, FIONREAD, &available) != 0) return;
  while (available > 0) {
    size_t want = std::min(buffer.size(), static_cast<size_t>(available));
    ssize_t n = ::read(fd, buffer.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p.out[stream]->write(std::string_view(buffer.data(), static_cast<size_t>(n)));
    available -= static_cast<int>(n);
  }
}

void Executor::State::publish_progress(const Process& p) {
  {
    std::lock_guard lock(mu);
    auto it = attempts.find(p.key);
    if (it == attempts.end()) return;
    AttemptProgress& progress = it->second;
    bool same = true;
    for (int stream = 0; stream < 2; ++stream) {
      same = same && progress.written[stream] == p.out[stream]->written();
      progress.written[stream] = p.out[stream]->written();
      progress.capped[stream] = p.out[stream]->capped();
    }
    if (same) return;
  }
  changed.notify_all();
}

void Executor::State::close_pipe(Process& p, int stream) {
  if (p.pipes[stream].get() < 0) return;
  // Explicitly: a descriptor inherited by a fork elsewhere in the server would keep the pipe
  // registered after close(), and its level-triggered events would spin.
  epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, p.pipes[stream].get(), nullptr);
  p.pipes[stream].reset();
}

void Executor::State::on_exit(Process& p) {
  // A job we are stopping loses the rest of its process group too. Before reaping: until the
  // leader is reaped its pid cannot be reused, so -pid still names this group.
  if (p.reason != EndReason::kExited) ::kill(-p.pid, SIGKILL);
  if (options.on_group) options.on_group(p.key, p.pid, false);
  // wait4 rather than waitid: its rusage is the usage where there is no cgroup.
  int status = 0;
  struct rusage usage {};
  pid_t rc;
  while ((rc = wait4(p.pid, &status, 0, &usage)) < 0 && errno == EINTR) {
  }
  ExecResult result;
  if (rc < 0) {
    result.error = "the exit status is unknown: " + common::errno_text(errno);
    common::log_warn("executor: " + result.error,
                     {{"job_id", p.key.job_id}, {"attempt", p.key.attempt}});
    usage = {};
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  p.pid = -1;
  release_cgroup(p, usage, &result);
  // The process is gone: what it wrote is in the pipes. Grandchildren may hold them open; we
  // take what is there and do not wait for them.
  drain_available(p, 0);
  drain_available(p, 1);
  finish(p, std::move(result));
}

void Executor::State::finish(Process& p, ExecResult result) {
  result.key = p.key;
  result.reason = p.reason;
  result.started_at_ms = p.started_at_ms;
  result.finished_at_ms = common::unix_now_ms();
  std::string grace = p.escalated ? " (SIGKILL after " + format_duration(options.kill_grace) +
                                        ": SIGTERM did not stop it)"
                                  : "";
  if (p.reason == EndReason::kTimeout) {
    result.error = "timed out after " + format_duration(p.timeout) + grace;
  } else if (p.reason == EndReason::kKilled) {
    result.error = "killed on request" + grace;
  } else if (p.reason == EndReason::kOom) {
    result.error = "killed by the kernel: out of memory";
    if (p.memory_limit > 0) {
      result.error += " (limit " + std::to_string(p.memory_limit) + " bytes, peak " +
                      std::to_string(result.peak_memory_bytes) + " bytes)";
    }
  } else if (result.signal != 0) {
    result.error = "terminated by " + signal_name(result.signal);
  } else if (result.exit_code && *result.exit_code != 0) {
    result.error = "exited with code " + std::to_string(*result.exit_code);
  }
  for (int stream = 0; stream < 2; ++stream) {
    OutputSink& out = *p.out[stream];
    if (!out.write_error().empty()) {
      common::log_warn("executor: " + out.write_error(),
                       {{"job_id", p.key.job_id}, {"attempt", p.key.attempt}});
    }
    (stream == 0 ? result.stdout_tail : result.stderr_tail) = out.tail();
    (stream == 0 ? result.stdout_truncated : result.stderr_truncated) = out.tail_truncated();
    out.close();
    close_pipe(p, stream);
  }
  epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, p.pidfd.get(), nullptr);
  set_deadline(p, SteadyTime::max());

  const AttemptKey key = p.key;
  process_ids.erase(key);
  processes.erase(p.id);  // p is gone
  {
    std::lock_guard lock(mu);
    attempts.erase(key);
  }
  changed.notify_all();
  if (on_finished) on_finished(std::move(result));
}

void Executor::State::terminate(Process& p, EndReason reason) {
  if (p.phase != Process::Phase::kRunning || p.pid <= 0) return;
  p.reason = reason;
  p.phase = Process::Phase::kTerminating;
  ::kill(-p.pid, SIGTERM);
  set_deadline(p, std::chrono::steady_clock::now() + options.kill_grace);
}

void Executor::State::set_deadline(Process& p, SteadyTime when) {
  if (p.deadline != SteadyTime::max()) deadlines.erase({p.deadline, p.id});
  p.deadline = when;
  if (when != SteadyTime::max()) deadlines.insert({when, p.id});
}

void Executor::State::fire_deadlines() {
  const SteadyTime now = std::chrono::steady_clock::now();
  while (!deadlines.empty() && deadlines.begin()->first <= now) {
    Process& p = *processes.at(deadlines.begin()->second);
    set_deadline(p, SteadyTime::max());
    if (p.phase == Process::Phase::kRunning) {
      terminate(p, EndReason::kTimeout);
    } else if (p.phase == Process::Phase::kTerminating) {
      p.phase = Process::Phase::kKilling;
      p.escalated = true;
      ::kill(-p.pid, SIGKILL);
      if (p.cgroup) p.cgroup->kill_all();  // what left the process group too
    }
  }
}

void Executor::State::shut_down() {
  for (auto& [id, p] : processes) {
    ::kill(-p->pid, SIGKILL);
    if (p->cgroup) p->cgroup->kill_all();
  }
  for (auto& [id, p] : processes) {
    if (options.on_group) options.on_group(p->key, p->pid, false);
    siginfo_t info;
    while (waitid(P_PID, p->pid, &info, WEXITED) != 0 && errno == EINTR) {
    }
    if (p->cgroup) retire(std::move(p->cgroup));
  }
  // The cgroups go with the server: their processes were killed and exit within moments.
  const SteadyTime give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!retiring.empty() && std::chrono::steady_clock::now() < give_up) {
    retry_retiring();
    if (!retiring.empty()) std::this_thread::sleep_for(kRetireEvery);
  }
  retiring.clear();
  processes.clear();
  process_ids.clear();
  deadlines.clear();
  {
    std::lock_guard lock(mu);
    attempts.clear();
    requests.clear();
  }
  changed.notify_all();
}

void Executor::State::retire(std::unique_ptr<AttemptCgroup> cgroup) {
  std::string error;
  if (cgroup->remove(&error)) return;
  if (!error.empty()) {
    spdlog::warn("executor: {}", error);
    return;
  }
  retiring.emplace_back(std::move(cgroup), kRetireTries);
}

void Executor::State::retry_retiring() {
  for (auto it = retiring.begin(); it != retiring.end();) {
    std::string error;
    it->first->kill_all();
    if (it->first->remove(&error) || !error.empty() || --it->second <= 0) {
      if (!error.empty() || it->second <= 0) {
        spdlog::warn("executor: cannot remove the cgroup {}: {}", it->first->memory_dir().string(),
                     error.empty() ? "a process in it does not exit" : error);
      }
      it = retiring.erase(it);
    } else {
      ++it;
    }
  }
}

void Executor::State::release_cgroup(Process& p, const struct rusage& rusage, ExecResult* result) {
  if (!p.cgroup) {
    result->peak_memory_bytes = static_cast<uint64_t>(std::max<long>(rusage.ru_maxrss, 0)) * 1024;
    const int64_t cpu_us = (rusage.ru_utime.tv_sec + rusage.ru_stime.tv_sec) * 1'000'000LL +
                           rusage.ru_utime.tv_usec + rusage.ru_stime.tv_usec;
    result->cpu_time_ms = static_cast<uint64_t>(std::max<int64_t>(cpu_us, 0) / 1000);
    return;
  }
  // What the job left running ends with it (as in its own PID namespace).
  p.cgroup->kill_all();
  CgroupUsage usage = p.cgroup->usage();
  result->peak_memory_bytes = usage.peak_memory_bytes;
  result->cpu_time_ms = usage.cpu_time_ns / 1'000'000;
  // Out of memory: the job failed and the kernel killed a process of it at the limit. Where
  // the kernel does not count its kills (v1 before 4.13): the limit was reached and SIGKILL
  // ended the job (directly, or as the shell's 128 + 9).
  const bool failed = result->signal != 0 || (result->exit_code && *result->exit_code != 0);
  const bool killed = result->signal == SIGKILL || (result->exit_code && *result->exit_code == 137);
  const bool oom = usage.oom_kill_known ? usage.oom_kills > 0 : usage.memory_limit_hit && killed;
  if (p.reason == EndReason::kExited && failed && oom) p.reason = EndReason::kOom;
  retire(std::move(p.cgroup));
}
}  // namespace nomad::worker
