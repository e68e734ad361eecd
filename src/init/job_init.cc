// nomad-lite-init: starts one job in a PID namespace and a mount namespace of its own, with a
// fresh /proc, so that the job sees only its own processes (no other job's environment, none
// of the server's). The executor runs it in place of the job's shell when the server is root
// (worker/namespaces.h); it keeps the process model the executor relies on:
//
//   executor ── X (this program; the attempt's pid and process group, in the server's
//                  namespace) ── C1 (pid 1 of the new namespace: reaps orphans, nothing else)
//                             └─ C2 (pid 2: the job; mounts /proc, drops to the job user, execs)
//
// - X waits for C2 and ends the way C2 ended: the same exit code, or the same signal (X is an
//   ordinary process, so it can die of SIGTERM; a namespace's pid 1 cannot, which is why the
//   job is not pid 1 and X is not in the namespace).
// - SIGTERM, SIGINT and SIGHUP sent to X's process group (cancel, timeout, the lease
//   watchdog) reach X and C1 only: C2 leads a process group of its own. X forwards them to C2's
//   group, so the job gets each exactly once. C1, as a namespace's init without handlers,
//   ignores them.
// - SIGKILL to X's group kills X and C1; the kernel then kills everything in the namespace.
//   C1 and C2 also die with X (PR_SET_PDEATHSIG), and X with the executor thread (set before
//   exec by the spawn), so nothing outlives the attempt. Processes the job leaves behind die
//   when C2 exits (X exits, C1 follows, the namespace is emptied).
// - Everything is decided before exec: rlimits, stdio, environment and working directory come
//   from the spawn; --user names the uid, gid and groups to drop to after the mounts.
//
// Usage: nomad-lite-init [--user UID:GID[:G1,G2...]] -- PROGRAM [ARG...]
//        nomad-lite-init --probe    (exit 0 if the namespaces and /proc mount work here)
// Failures before the job runs are printed on stderr and end X with exit code 127.

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

extern char** environ;

namespace {

constexpr int kSetupFailed = 127;

struct User {
  bool set = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "nomad-lite-init: %s: %s\n", what, strerror(errno));
  _exit(kSetupFailed);
}

[[noreturn]] void usage(const char* why) {
  fprintf(stderr,
          "nomad-lite-init: %s\nusage: nomad-lite-init [--user UID:GID[:G1,G2...]] -- PROGRAM "
          "[ARG...]\n       nomad-lite-init --probe\n",
          why);
  _exit(2);
}

bool parse_id(const char*& p, unsigned long* out) {
  char* end = nullptr;
  errno = 0;
  *out = strtoul(p, &end, 10);
  if (end == p || errno != 0 || *out > 0xfffffffeUL) return false;
  p = end;
  return true;
}

bool parse_user(const char* text, User* user) {
  unsigned long v;
  const char* p = text;
  if (!parse_id(p, &v) || *p++ != ':') return false;
  user->uid = static_cast<uid_t>(v);
  if (!parse_id(p, &v)) return false;
  user->gid = static_cast<gid_t>(v);
  if (*p == ':') {
    ++p;
    while (*p) {
      if (!parse_id(p, &v)) return false;
      user->groups.push_back(static_cast<gid_t>(v));
      if (*p == ',')
        ++p;
      else if (*p)
        return false;
    }
  } else if (*p) {
    return false;
  }
  user->set = true;
  return true;
}

// Groups, group, user; then the parent-death signal again (a change of credentials clears
// it). The caller checks afterwards that its parent still lives.
void drop_to(const User& user) {
  if (user.set) {
    if (setgroups(user.groups.size(), user.groups.data()) != 0) fail("setgroups");
    if (setgid(user.gid) != 0) fail("setgid");
    if (setuid(user.uid) != 0) fail("setuid");
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

void enter_namespaces() {
  if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) fail("cannot create the job's namespaces");
  // Mounts made inside must not propagate back to the host's mount namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    fail("cannot make the job's mounts private");
  }
}

void mount_proc() {
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    fail("cannot mount the job's /proc");
  }
}

// C1: pid 1 of the namespace. Reaps whatever is orphaned into it until X dies. X's pid means
// nothing in here (getppid() is 0 while X lives and after), so X's end of `alive` tells: it
// closes when X is gone.
[[noreturn]] void reap_forever(const User& user, int alive) {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3 && null >= 0; ++fd) dup2(null, fd);  // hold no pipe of the job
  drop_to(user);
  char byte;
  if (read(alive, &byte, 1) == 0) _exit(kSetupFailed);  // X died before the death signal was set
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  while (true) {
    siginfo_t info;
    sigwaitinfo(&chld, &info);
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
}

// X ends the way the job ended.
[[noreturn]] void end_like(int status) {
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int sig = WTERMSIG(status);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // the job's core, if any, is already written
  signal(sig, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  sigprocmask(SIG_UNBLOCK, &only, nullptr);
  kill(getpid(), sig);
  _exit(128 + sig);
}

int probe() {
  enter_namespaces();
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    mount_proc();
    char self[32] = {0};
    ssize_t n = readlink("/proc/self", self, sizeof self - 1);
    if (getpid() != 1 || n <= 0 || strcmp(self, "1") != 0) {
      fprintf(stderr, "nomad-lite-init: the new /proc does not show the new PID namespace\n");
      _exit(1);
    }
    _exit(0);
  }
  int status;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) fail("waitpid");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  User user;
  int first = -1;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--probe") == 0) return probe();
    if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
      if (!parse_user(argv[++i], &user)) usage("--user: expected UID:GID[:G1,G2...]");
    } else if (strcmp(argv[i], "--") == 0) {
      first = i + 1;
      break;
    } else {
      usage("unknown argument");
    }
  }
  if (first < 0 || first >= argc) usage("no program to run");

  sigset_t handled, empty;
  sigemptyset(&handled);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&handled, sig);
  sigemptyset(&empty);
  sigprocmask(SIG_BLOCK, &handled, nullptr);  // taken with sigwaitinfo below, never lost

  enter_namespaces();
  int alive[2];
  if (pipe2(alive, O_CLOEXEC) != 0) fail("pipe");
  fcntl(alive[0], F_SETFL, O_NONBLOCK);
  pid_t reaper = fork();  // the first child is pid 1 of the new namespace
  if (reaper < 0) fail("fork");
  if (reaper == 0) {
    close(alive[1]);
    reap_forever(user, alive[0]);
  }
  close(alive[0]);

  pid_t job = fork();
  if (job < 0) fail("fork");
  if (job == 0) {
    setpgid(0, 0);
    mount_proc();
    drop_to(user);
    if (getppid() != 0) _exit(kSetupFailed);  // X (outside, so 0 in here) died: pid 1 adopted it
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    execve(argv[first], argv + first, environ);
    fprintf(stderr, "nomad-lite-init: cannot execute %s: %s\n", argv[first], strerror(errno));
    _exit(kSetupFailed);
  }
  setpgid(job, job);  // also here: a signal may be forwarded before the child ran at all
  const pid_t executor = getppid();
  drop_to(user);
  if (getppid() != executor) _exit(kSetupFailed);

  while (true) {
    siginfo_t info;
    int sig = sigwaitinfo(&handled, &info);
    if (sig < 0) continue;  // EINTR
    if (sig != SIGCHLD) {
      kill(-job, sig);
      continue;
    }
    int status;
    pid_t done;
    while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
      if (done == job) end_like(status);
    }
  }
}
