#include "worker/spawn.h"

// Why vfork + execve:
// - fork() would copy the page tables of the server (large, many threads) for every job and is
//   slow and unsafe in a threaded process; the target is >= 1,000 spawns/s on 2 cores.
// - posix_spawn is fast (glibc uses clone(CLONE_VM | CLONE_VFORK)) and can set the process
//   group, stdio, working directory and signal state, but it has no action for resource
//   limits, and setting them afterwards with prlimit() is racy: the job may already have
//   exec'd, opened files or dumped core with the server's limits.
// - vfork() shares the server's memory and suspends only the calling (executor) thread until
//   the child calls execve or _exit, so it costs about what posix_spawn costs. Between vfork
//   and execve the child calls only async-signal-safe system call wrappers on data prepared
//   beforehand (no allocation, no locks, no C++), and all signals stay blocked until the
//   dispositions are back to default, so no handler of the server ever runs on the shared
//   memory. The child reports why it failed by writing into that shared memory (what glibc's
//   posix_spawn does too) rather than through a close-on-exec pipe: the parent cannot resume
//   before the child has exec'd or exited, so the value is there when vfork returns, and the
//   three extra system calls of a pipe are saved.

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <system_error>

namespace nomad::worker {

namespace {

enum Stage : int { kNone = 0, kSetpgid, kParentGone, kChdir, kStdio, kLimits, kExec };

// Everything the child needs, prepared before vfork.
struct ChildPlan {
  const char* program;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int stdio[3];
  struct rlimit open_files, processes, core_size;
  sigset_t empty_mask;
  pid_t parent;
};

// Written by the child (shared memory), read by the parent once vfork has returned.
struct ChildFailure {
  volatile int stage = kNone;
  volatile int err = 0;
};

[[noreturn]] void child_fail(ChildFailure* failure, int stage) {
  failure->err = errno;
  failure->stage = stage;
  _exit(127);
}

// The vfork child. Only async-signal-safe calls: see the comment at the top.
[[noreturn]] __attribute__((noinline)) void exec_child(const ChildPlan* plan,
                                                       ChildFailure* failure) {
  // Handlers of the server must not survive (they would run on the server's memory until
  // execve), and ignored signals (SIGPIPE in a gRPC server) would be inherited by the job.
  // glibc's wrapper refuses its own signals (32, 33), so the raw system call resets every
  // one: a server started with one of them ignored would pass that on to every job.
  struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    uint64_t mask;
  } kernel_default{SIG_DFL, 0, nullptr, 0};
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      syscall(SYS_rt_sigaction, sig, &kernel_default, nullptr, sizeof(kernel_default.mask));
    }
  }
  if (setpgid(0, 0) != 0) child_fail(failure, kSetpgid);
  // The job dies with the executor thread (a crashed server) rather than running on unseen:
  // after a restart the node reports such an attempt lost and it may be run again elsewhere.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != plan->parent) {
    errno = ESRCH;
    child_fail(failure, kParentGone);
  }
  if (chdir(plan->cwd) != 0) child_fail(failure, kChdir);
  for (int fd = 0; fd < 3; ++fd) {
    if (dup2(plan->stdio[fd], fd) < 0) child_fail(failure, kStdio);
  }
  if (setrlimit(RLIMIT_NOFILE, &plan->open_files) != 0 ||
      setrlimit(RLIMIT_NPROC, &plan->processes) != 0 ||
      setrlimit(RLIMIT_CORE, &plan->core_size) != 0) {
    child_fail(failure, kLimits);
  }
  // Descriptors another server thread opened without O_CLOEXEC do not reach the job.
  syscall(SYS_close_range, 3u, ~0u, 0u);
  sigprocmask(SIG_SETMASK, &plan->empty_mask, nullptr);
  execve(plan->program, plan->argv, plan->envp);
  child_fail(failure, kExec);
}

// Kept apart so that no local of spawn_process lives across the returns-twice call.
__attribute__((noinline)) pid_t vfork_and_exec(const ChildPlan* plan, ChildFailure* failure) {
  pid_t pid = vfork();
  if (pid == 0) exec_child(plan, failure);
  return pid;
}

std::string error_text(int err) { return std::system_category().message(err); }

void reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

int above_stdio(int fd) {
  if (fd < 0 || fd >= 3) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  errno = saved;
  return moved;
}

SpawnOutcome spawn_process(const SpawnRequest& request) {
  std::vector<char*> argv, envp;
  argv.reserve(request.argv.size() + 1);
  for (const std::string& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  envp.reserve(request.env.size() + 1);
  for (const std::string& e : request.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  ChildPlan plan{};
  plan.program = request.program.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = request.cwd.c_str();
  plan.stdio[0] = request.stdin_fd;
  plan.stdio[1] = request.stdout_fd;
  plan.stdio[2] = request.stderr_fd;
  plan.open_files = {request.limits.open_files, request.limits.open_files};
  plan.processes = {request.limits.processes, request.limits.processes};
  plan.core_size = {request.limits.core_size, request.limits.core_size};
  sigemptyset(&plan.empty_mask);
  plan.parent = getpid();

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  ChildFailure failure;
  pid_t pid = vfork_and_exec(&plan, &failure);
  int vfork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);

  if (pid < 0) return {-1, "cannot start a process: " + error_text(vfork_errno)};
  int stage = failure.stage;
  if (stage == kNone) return {pid, ""};
  reap(pid);
  std::string why = error_text(failure.err);
  switch (stage) {
    case kSetpgid:
      return {-1, "cannot create a process group: " + why};
    case kParentGone:
      return {-1, "the server is exiting"};
    case kChdir:
      return {-1, "cannot enter the work directory " + request.cwd + ": " + why};
    case kStdio:
      return {-1, "cannot connect stdin, stdout and stderr: " + why};
    case kLimits:
      return {-1, "cannot set resource limits (open files " +
                      std::to_string(request.limits.open_files) + ", processes " +
                      std::to_string(request.limits.processes) + ", core size " +
                      std::to_string(request.limits.core_size) + "): " + why};
    default:
      return {-1, "cannot execute " + request.program + ": " + why};
  }
}

}  // namespace nomad::worker
