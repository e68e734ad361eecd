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
// - Switching to the job's user (--job-user) is done in the child with raw system calls:
//   glibc's setuid, setgid and setgroups in a threaded process signal every thread of the
//   process so that all of them change (POSIX semantics), and in a vfork child that machinery
//   would act on the server's threads, whose bookkeeping the child shares. glibc's own
//   posix_spawn makes raw calls for the same reason. The switch comes after the working
//   directory (entered with the server's rights, so a data directory below a private one
//   still works) and the resource limits (raising one above the server's hard limit needs
//   root), and before PR_SET_PDEATHSIG, which the kernel clears when the credentials change.
//   Changing the credentials also marks the shared memory non-dumpable (fs.suid_dumpable), so
//   no job of that user can ptrace the child before execve; the server stays so afterwards
//   (no core dump of it, with the default suid_dumpable 0), which we leave as it is.

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "common/errno_text.h"

namespace nomad::worker {

namespace {

enum Stage : int {
  kNone = 0,
  kSetpgid,
  kCgroup,
  kParentGone,
  kChdir,
  kStdio,
  kLimits,
  kSetgroups,
  kSetgid,
  kSetuid,
  kExec
};

// Everything the child needs, prepared before vfork.
struct ChildPlan {
  const char* program;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int stdio[3];
  const int* cgroup_fds;
  size_t cgroup_fd_count;
  struct rlimit open_files, processes, core_size;
  bool switch_user;  // then groups, gid and uid below
  const gid_t* groups;
  size_t group_count;
  gid_t gid;
  uid_t uid;
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
  // Still with the server's credentials, before anything of the job's can run.
  for (size_t i = 0; i < plan->cgroup_fd_count; ++i) {
    if (write(plan->cgroup_fds[i], "0", 1) != 1) child_fail(failure, kCgroup);
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
  // Groups first, then the group, then the user: after setuid nothing else may be changed.
  if (plan->switch_user) {
    if (syscall(SYS_setgroups, plan->group_count, plan->groups) != 0) {
      child_fail(failure, kSetgroups);
    }
    if (syscall(SYS_setgid, plan->gid) != 0) child_fail(failure, kSetgid);
    if (syscall(SYS_setuid, plan->uid) != 0) child_fail(failure, kSetuid);
  }
  // The job dies with the executor thread (a crashed server) rather than running on unseen:
  // after a restart the node reports such an attempt lost and it may be run again elsewhere.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != plan->parent) {
    errno = ESRCH;
    child_fail(failure, kParentGone);
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

void reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Status lookup_identity(const std::string& name, Identity* out) {
  if (name.empty() || name.find('\0') != std::string::npos) return Status::error("no such user");
  long suggested = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(suggested > 0 ? static_cast<size_t>(suggested) : 16384);
  struct passwd entry;
  struct passwd* found = nullptr;
  int rc;
  while ((rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE &&
         buffer.size() < (1u << 20)) {
    buffer.resize(buffer.size() * 2);
  }
  // Not found is 0 with no entry, though some NSS modules report ENOENT or ESRCH.
  if (!found && (rc == 0 || rc == ENOENT || rc == ESRCH)) return Status::error("no such user");
  if (!found) return Status::error("cannot look up user '" + name + "': " + common::errno_text(rc));
  Identity id;
  id.name = name;
  id.uid = entry.pw_uid;
  id.gid = entry.pw_gid;
  id.groups.resize(16);
  while (true) {
    int count = static_cast<int>(id.groups.size());
    if (getgrouplist(name.c_str(), id.gid, id.groups.data(), &count) >= 0) {
      id.groups.resize(static_cast<size_t>(count));
      break;
    }
    // Too small: count now says how many there are (glibc), or at least ask for twice as many.
    if (id.groups.size() >= 65536) {
      return Status::error("cannot look up the groups of user '" + name + "': too many");
    }
    id.groups.resize(std::max(static_cast<size_t>(count), id.groups.size() * 2));
  }
  *out = std::move(id);
  return Status::ok();
}

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
  plan.cgroup_fds = request.cgroup_fds.data();
  plan.cgroup_fd_count = request.cgroup_fds.size();
  plan.open_files = {request.limits.open_files, request.limits.open_files};
  plan.processes = {request.limits.processes, request.limits.processes};
  plan.core_size = {request.limits.core_size, request.limits.core_size};
  plan.switch_user = request.run_as.has_value();
  if (request.run_as) {
    plan.groups = request.run_as->groups.data();
    plan.group_count = request.run_as->groups.size();
    plan.gid = request.run_as->gid;
    plan.uid = request.run_as->uid;
  }
  sigemptyset(&plan.empty_mask);
  plan.parent = getpid();

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  ChildFailure failure;
  pid_t pid = vfork_and_exec(&plan, &failure);
  int vfork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);

  if (pid < 0) return {-1, "cannot start a process: " + common::errno_text(vfork_errno)};
  int stage = failure.stage;
  if (stage == kNone) return {pid, ""};
  reap(pid);
  std::string why = common::errno_text(failure.err);
  switch (stage) {
    case kSetpgid:
      return {-1, "cannot create a process group: " + why};
    case kCgroup:
      return {-1, "cannot move the job into its cgroup: " + why};
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
    case kSetgroups:
      return {-1, "cannot switch to user " + request.run_as->name + " (setgroups): " + why};
    case kSetgid:
      return {-1, "cannot switch to user " + request.run_as->name + " (setgid): " + why};
    case kSetuid:
      return {-1, "cannot switch to user " + request.run_as->name + " (setuid): " + why};
    default:
      return {-1, "cannot execute " +
                      (request.shown_as.empty() ? request.program : request.shown_as) + ": " + why};
  }
}

}  // namespace nomad::worker
