// The public side of the Executor: requests queued for the executor thread, and what other
// threads may read (running attempts, output files). The thread itself is executor_loop.cc.

#include "worker/executor.h"

#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include "common/errno_text.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "common/unix_time.h"
#include "worker/executor_state.h"
#include "worker/namespaces.h"

namespace nomad::worker {

namespace {

// A limit as high as this process may set: without CAP_SYS_RESOURCE not above its hard limit.
template <typename Resource>
rlim_t settable_limit(Resource resource, rlim_t wanted) {
  if (geteuid() == 0) return wanted;
  struct rlimit current;
  if (getrlimit(resource, &current) != 0 || current.rlim_max == RLIM_INFINITY) return wanted;
  return std::min(wanted, current.rlim_max);
}

// The first directory on the way to `path` (as far as it exists) that `user` may not search,
// judged by the mode bits (ACLs are not read); "" when there is none.
std::string first_unsearchable(const std::filesystem::path& path, const Identity& user) {
  std::filesystem::path dir;
  for (const auto& part : path) {
    dir /= part;
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return "";  // made later by the server, 0755
    if (!S_ISDIR(st.st_mode)) return "";
    mode_t bit = S_IXOTH;
    if (st.st_uid == user.uid) {
      bit = S_IXUSR;
    } else if (std::find(user.groups.begin(), user.groups.end(), st.st_gid) != user.groups.end() ||
               st.st_gid == user.gid) {
      bit = S_IXGRP;
    }
    if ((st.st_mode & bit) == 0) return dir.string();
  }
  return "";
}

}  // namespace

// Room is left for ".<attempt>.stdout" within a file name's 255 bytes.
bool valid_job_id(const std::string& job_id) {
  return !job_id.empty() && job_id.size() <= 200 && job_id != "." && job_id != ".." &&
         job_id.find('/') == std::string::npos && job_id.find('\0') == std::string::npos;
}

Executor::State::State(ExecutorOptions opts, StartedFn started, FinishedFn finished)
    : options(std::move(opts)), on_started(std::move(started)), on_finished(std::move(finished)) {
  std::error_code ec;
  if (!options.root.empty()) {
    auto absolute = std::filesystem::absolute(options.root, ec);
    if (!ec) options.root = absolute.lexically_normal();
  }
  limits.open_files = settable_limit(RLIMIT_NOFILE, options.max_open_files);
  limits.processes = settable_limit(RLIMIT_NPROC, options.max_processes);
  limits.core_size = settable_limit(RLIMIT_CORE, options.max_core_size);
  marker = truncation_marker(options.output_cap);
  buffer.resize(64 << 10);

  epoll_fd.reset(epoll_create1(EPOLL_CLOEXEC));
  wake_fd.reset(above_stdio(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)));
  devnull_fd.reset(above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC)));
  if (epoll_fd.get() < 0 || wake_fd.get() < 0 || devnull_fd.get() < 0) {
    init_error = "the executor cannot start: " + common::errno_text(errno);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // process ids start at 1
  if (epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), &ev) != 0) {
    init_error = "the executor cannot start: " + common::errno_text(errno);
    return;
  }
  if (!options.job_user.empty()) {
    Identity user;
    if (Status s = lookup_identity(options.job_user, &user); !s) {
      init_error = "cannot run jobs as '" + options.job_user + "': " + s.message();
      return;
    }
    // Jobs start in their work directory whatever its parents allow (the server enters it
    // before switching user), but a job that names its path ($HOME, `cd $PWD`) and the
    // sandbox, which binds it by path, need every parent searchable.
    if (std::string blocked = first_unsearchable(options.root, user); !blocked.empty()) {
      spdlog::warn(
          "jobs run as {} cannot reach their work directories: {} is not searchable by that "
          "user; {}",
          user.name, blocked,
          options.isolation == Isolation::kSandbox
              ? "the sandbox cannot start them; use a --data-dir that user can reach"
              : "they start in them, but $HOME and absolute paths into them fail; use a "
                "--data-dir that user can reach");
    }
    run_as = std::move(user);
  }
  if (options.job_cgroups) {
    cgroups = CgroupTree::create(find_cgroup_places(options.cgroup_sources), &limits_note);
  } else {
    limits_note = "per-job cgroups are turned off";
  }
  if (cgroups) {
    limits_note = cgroups->describe();
    spdlog::info("job limits (--cpu, --memory) are enforced: each attempt runs in its own {}",
                 limits_note);
  } else {
    spdlog::warn(
        "job limits (--cpu, --memory) are advisory only: {}; jobs run without cgroups and their "
        "peak memory and CPU time come from the kernel's rusage",
        limits_note);
  }
  if (options.job_namespaces && options.isolation == Isolation::kRaw && geteuid() == 0) {
    std::string init = job_init_path(options.init_program);
    if (std::string why = probe_job_namespaces(init); why.empty()) {
      namespace_init = init;
      spdlog::info("each job runs in its own PID and mount namespace, with a /proc of its own");
    } else {
      spdlog::warn(
          "jobs run without namespaces of their own ({}): a job can see other processes in /proc, "
          "and read the environment of other jobs of its user",
          why);
    }
  }
}

Executor::State::~State() = default;

void Executor::State::refuse_starts() {
  std::unique_lock lock(mu);
  while (true) {
    refused.wait(lock, [&] { return stopping || !requests.empty(); });
    if (stopping) return;
    std::deque<Request> batch;
    batch.swap(requests);
    lock.unlock();
    for (auto& request : batch) {
      if (request.kind != Request::Kind::kStart) continue;
      ExecResult result;
      result.key = request.spec.key;
      result.reason = EndReason::kSpawnError;
      result.error = init_error;
      result.started_at_ms = result.finished_at_ms = common::unix_now_ms();
      if (on_finished) on_finished(std::move(result));
    }
    lock.lock();
  }
}

void Executor::State::wake() {
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd.get(), &one, sizeof one);
  (void)n;  // EAGAIN: the counter is already non-zero, the thread wakes anyway
}

Executor::Executor(ExecutorOptions options, StartedFn on_started, FinishedFn on_finished)
    : state_(std::make_unique<State>(std::move(options), std::move(on_started),
                                     std::move(on_finished))) {
  if (!state_->init_error.empty()) {
    spdlog::critical("{}", state_->init_error);
    state_->thread = std::thread([s = state_.get()] {
      common::name_this_thread("executor");
      s->refuse_starts();
    });
    return;
  }
  state_->thread = std::thread([s = state_.get()] {
    common::name_this_thread("executor");
    s->run();
  });
}

Executor::~Executor() {
  if (state_->thread.joinable()) {
    {
      std::lock_guard lock(state_->mu);
      state_->stopping = true;
    }
    state_->wake();
    state_->refused.notify_all();
    state_->thread.join();
  }
}

void Executor::start(ExecSpec spec) {
  State& s = *state_;
  if (!s.init_error.empty()) {
    {
      std::lock_guard lock(s.mu);
      if (s.stopping) return;
      s.requests.push_back({Request::Kind::kStart, std::move(spec)});
    }
    s.refused.notify_one();
    return;
  }
  bool duplicate = false;
  {
    std::lock_guard lock(s.mu);
    if (s.stopping) return;
    duplicate = !s.attempts.emplace(spec.key, AttemptProgress{}).second;
    if (!duplicate) s.requests.push_back({Request::Kind::kStart, std::move(spec)});
  }
  if (duplicate) {
    common::log_warn("executor: the attempt is already queued or running; not started again",
                     {{"job_id", spec.key.job_id}, {"attempt", spec.key.attempt}});
    return;
  }
  s.wake();
}

void Executor::kill(const AttemptKey& key) {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (s.stopping || !s.attempts.contains(key)) return;
    ExecSpec spec;
    spec.key = key;
    s.requests.push_back({Request::Kind::kKill, std::move(spec)});
  }
  s.wake();
}

std::vector<AttemptKey> Executor::running() const {
  std::lock_guard lock(state_->mu);
  std::vector<AttemptKey> keys;
  keys.reserve(state_->attempts.size());
  for (const auto& [key, progress] : state_->attempts) keys.push_back(key);
  return keys;
}

std::filesystem::path Executor::State::attempt_dir(const AttemptKey& key) const {
  if (!valid_job_id(key.job_id)) return {};
  return options.root / (key.job_id + "." + std::to_string(key.attempt));
}

std::filesystem::path Executor::State::output_file(const AttemptKey& key, bool from_stderr) const {
  std::filesystem::path dir = attempt_dir(key);
  if (dir.empty()) return {};
  return dir.string() + (from_stderr ? ".stderr" : ".stdout");
}

std::filesystem::path Executor::attempt_dir(const AttemptKey& key) const {
  return state_->attempt_dir(key);
}

std::filesystem::path Executor::output_file(const AttemptKey& key, bool from_stderr) const {
  return state_->output_file(key, from_stderr);
}

bool Executor::State::has_attempt_dir(const AttemptKey& key) const {
  std::error_code ec;
  return valid_job_id(key.job_id) && std::filesystem::is_directory(attempt_dir(key), ec);
}

bool Executor::was_started(const AttemptKey& key) const { return state_->has_attempt_dir(key); }

int Executor::cgroup_version() const { return state_->cgroups ? state_->cgroups->version() : 0; }

std::string Executor::limits_note() const { return state_->limits_note; }

Executor::ReadResult Executor::read_output(const AttemptKey& key, bool from_stderr, uint64_t offset,
                                           size_t max, std::chrono::milliseconds wait_for) const {
  const State& s = *state_;
  ReadResult result;
  std::filesystem::path dir = attempt_dir(key);
  if (dir.empty()) {
    result.status = Status::error("'" + key.job_id + "' is not a valid job id");
    return result;
  }
  const int stream = from_stderr ? 1 : 0;
  bool running = false, capped = false;
  {
    std::unique_lock lock(s.mu);
    const SteadyTime deadline =
        std::chrono::steady_clock::now() + std::max(wait_for, std::chrono::milliseconds(0));
    while (true) {
      auto it = s.attempts.find(key);
      running = it != s.attempts.end();
      if (!running) break;
      capped = it->second.capped[stream];
      if (it->second.written[stream] > offset || max == 0 || s.stopping ||
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      s.changed.wait_until(lock, deadline);
    }
  }

  std::filesystem::path path = output_file(key, from_stderr);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT && running) return result;  // queued, or nothing written yet
    if (errno == ENOENT && s.has_attempt_dir(key)) {
      result.finished = true;  // it ran here and never wrote to this stream
      return result;
    }
    result.status = Status::error(
        errno == ENOENT ? "no output of job " + key.job_id + " attempt " +
                              std::to_string(key.attempt) + " on this node"
                        : "cannot read " + path.string() + ": " + common::errno_text(errno));
    return result;
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    result.status =
        Status::error("cannot read " + path.string() + ": " + common::errno_text(errno));
    return result;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset < size && max > 0) {
    result.data.resize(static_cast<size_t>(std::min<uint64_t>(max, size - offset)));
    size_t got = 0;
    while (got < result.data.size()) {
      ssize_t n = pread(fd.get(), result.data.data() + got, result.data.size() - got,
                        static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        result.status =
            Status::error("cannot read " + path.string() + ": " + common::errno_text(errno));
        result.data.clear();
        return result;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    result.data.resize(got);
  }
  result.finished = !running && offset + result.data.size() >= size;
  if (running) {
    result.truncated = capped;
  } else if (size >= s.marker.size()) {
    // Finished, maybe by an earlier process of this node: the file says whether it was cut.
    std::string end(s.marker.size(), '\0');
    ssize_t n = pread(fd.get(), end.data(), end.size(), static_cast<off_t>(size - end.size()));
    result.truncated = n == static_cast<ssize_t>(end.size()) && end == s.marker;
  }
  return result;
}

void Executor::remove_output(const AttemptKey& key) {
  State& s = *state_;
  std::filesystem::path dir = attempt_dir(key);
  if (dir.empty()) return;
  {
    std::lock_guard lock(s.mu);
    if (s.attempts.contains(key)) return;
  }
  std::lock_guard fs_lock(s.fs_mu);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  for (bool from_stderr : {false, true}) {
    if (!ec) std::filesystem::remove(output_file(key, from_stderr), ec);
  }
  if (ec) {
    spdlog::warn("executor: cannot remove the output of {}: {}", dir.string(), ec.message());
  }
}

}  // namespace nomad::worker
