// ExecutorOptions::job_user (--job-user): with a server running as root, every job runs as an
// unprivileged user with that user's groups, owns its work directory and nothing else, and a
// failure to switch user is a readable spawn error. The tests that switch user need root
// (CI and the dev machine run tests as root) and are skipped otherwise.

#include <fcntl.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "executor_harness.h"
#include "worker/executor.h"
#include "worker/spawn.h"

namespace nomad::worker::testing {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace job_user_test {

std::string text(const std::set<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::set<std::string> lines(const std::string& s) {
  std::set<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.insert(line);
  return out;
}

uid_t owner_of(const std::filesystem::path& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_uid;
}

TEST(LookupIdentity, FindsAUserAndItsGroups) {
  struct passwd* pw = getpwnam("nobody");
  if (!pw) GTEST_SKIP() << "this machine has no user nobody";
  Identity id;
  ASSERT_TRUE(lookup_identity("nobody", &id).is_ok());
  EXPECT_EQ(id.name, "nobody");
  EXPECT_EQ(id.uid, pw->pw_uid);
  EXPECT_EQ(id.gid, pw->pw_gid);
  // getgrouplist always lists the primary group.
  EXPECT_NE(std::find(id.groups.begin(), id.groups.end(), pw->pw_gid), id.groups.end());
}

TEST(LookupIdentity, UnknownUserSaysSo) {
  Identity id;
  EXPECT_EQ(lookup_identity("nomad-lite-no-such-user", &id).message(), "no such user");
  EXPECT_EQ(lookup_identity("", &id).message(), "no such user");
}

TEST_F(ExecutorTest, UnknownJobUserIsASpawnErrorForEveryJob) {
  ExecutorOptions o = options();
  o.job_user = "nomad-lite-no-such-user";
  executor(o);
  ExecResult r = run("nouser", "true");
  EXPECT_EQ(r.reason, EndReason::kSpawnError);
  EXPECT_EQ(r.error, "cannot run jobs as 'nomad-lite-no-such-user': no such user");
}

// Jobs run as nobody, in a root directory nobody may search (mkdtemp makes it 0700).
class JobUserTest : public ExecutorTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "switching to another user needs root";
    struct passwd* pw = getpwnam("nobody");
    if (!pw) GTEST_SKIP() << "this machine has no user nobody";
    ASSERT_TRUE(lookup_identity("nobody", &nobody_).is_ok());
    ASSERT_EQ(chmod(root_.dir().c_str(), 0755), 0);
    executor(as_nobody());
  }

  ExecutorOptions as_nobody() {
    ExecutorOptions o = options();
    o.job_user = "nobody";
    return o;
  }

  Identity nobody_;
};

TEST_F(JobUserTest, RunsAsTheUserWithItsGroups) {
  ExecResult r = run("ids", "id -u; id -g; id -G; grep -E '^(Uid|Gid):' /proc/self/status");
  ASSERT_EQ(r.exit_code, 0) << r.error << r.stderr_tail;
  std::string uid = std::to_string(nobody_.uid), gid = std::to_string(nobody_.gid);
  std::string groups;
  for (gid_t g : nobody_.groups) groups += (groups.empty() ? "" : " ") + std::to_string(g);
  // Real, effective, saved and file-system ids alike: nothing left to switch back to.
  EXPECT_EQ(r.stdout_tail, uid + "\n" + gid + "\n" + groups + "\n" + "Uid:\t" + uid + "\t" + uid +
                               "\t" + uid + "\t" + uid + "\nGid:\t" + gid + "\t" + gid + "\t" +
                               gid + "\t" + gid + "\n");
}

TEST_F(JobUserTest, WritesItsWorkDirectoryButNotTheServersFiles) {
  const std::filesystem::path locked = root_.dir() / "root-only";
  ASSERT_TRUE(std::filesystem::create_directory(locked));
  ASSERT_EQ(chmod(locked.c_str(), 0755), 0);
  const std::string own_output = output_file("writes", "stdout").string();
  ExecResult r = run("writes", "touch mine && echo wrote; touch " + locked.string() +
                                   "/x 2>/dev/null || echo refused; echo junk 2>/dev/null > " +
                                   own_output + " || echo output-kept; touch $HOME/home-ok");
  ASSERT_EQ(r.exit_code, 0) << r.error << r.stderr_tail;
  EXPECT_EQ(r.stdout_tail, "wrote\nrefused\noutput-kept\n");
  EXPECT_FALSE(std::filesystem::exists(locked / "x"));
  EXPECT_EQ(owner_of(attempt_dir("writes")), nobody_.uid);
  EXPECT_EQ(owner_of(attempt_dir("writes") / "mine"), nobody_.uid);
  EXPECT_TRUE(std::filesystem::exists(attempt_dir("writes") / "home-ok"));
  EXPECT_EQ(owner_of(attempt_dir("writes").parent_path()), 0u);
  EXPECT_EQ(owner_of(output_file("writes", "stdout")), 0u);

  // The same command as root does write there: the refusal above is the user's doing.
  executor(options());
  EXPECT_EQ(run("writes-root", "touch " + locked.string() + "/x && echo wrote").stdout_tail,
            "wrote\n");
}

TEST_F(JobUserTest, StartsInItsWorkDirectoryEvenBelowAPrivateDirectory) {
  // The server enters the directory before it switches user: a data directory below a
  // private one (/root/...) still works for jobs that use relative paths.
  ASSERT_EQ(chmod(root_.dir().c_str(), 0700), 0);
  executor(as_nobody());
  ExecResult r =
      run("private", "touch mine && echo wrote; ls -d \"$HOME\" 2>/dev/null || echo no-home");
  ASSERT_EQ(r.exit_code, 0) << r.error << r.stderr_tail;
  EXPECT_EQ(r.stdout_tail, "wrote\nno-home\n");
  EXPECT_EQ(owner_of(attempt_dir("private") / "mine"), nobody_.uid);
}

TEST_F(JobUserTest, EnvironmentNamesTheUserAndLeaksNothingOfTheServer) {
  ASSERT_EQ(setenv("NOMAD_LITE_SECRET_TEST", "must-not-leak", 1), 0);
  ExecSpec s = spec("env", "env", 3);
  s.env = {{"GREETING", "hi"}};
  ExecResult r = run(std::move(s));
  unsetenv("NOMAD_LITE_SECRET_TEST");
  ASSERT_EQ(r.exit_code, 0) << r.error << r.stderr_tail;
  std::set<std::string> env = lines(r.stdout_tail);
  // What the shell adds itself (PWD, SHLVL, _) aside, exactly these.
  env.erase(std::string("PWD=") + (attempt_dir("env", 3)).string());
  std::erase_if(env, [](const std::string& e) {
    return e.starts_with("SHLVL=") || e.starts_with("_=") || e.starts_with("OLDPWD=");
  });
  std::set<std::string> expected = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=" + (attempt_dir("env", 3)).string(),
      "LANG=C.UTF-8",
      "USER=nobody",
      "LOGNAME=nobody",
      "GREETING=hi",
      "NOMAD_LITE_JOB_ID=env",
      "NOMAD_LITE_ATTEMPT=3",
  };
  EXPECT_EQ(text(env), text(expected));
}

TEST_F(JobUserTest, TimeoutStillStopsTheJob) {
  ExecSpec s = spec("slow", "sleep 30");
  s.timeout = 200ms;
  ExecResult r = run(std::move(s));
  EXPECT_EQ(r.reason, EndReason::kTimeout);
  EXPECT_EQ(r.signal, SIGTERM);
}

TEST_F(JobUserTest, JobDiesWithTheThreadThatSpawnedIt) {
  // PR_SET_PDEATHSIG is cleared by the kernel when the credentials change: it must be set
  // after the switch, or a job would outlive a crashed server.
  SpawnRequest request;
  request.program = "/bin/sleep";
  request.argv = {"sleep", "30"};
  request.cwd = "/";
  request.run_as = nobody_;
  int devnull = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
  ASSERT_GE(devnull, 3);
  request.stdin_fd = request.stdout_fd = request.stderr_fd = devnull;
  SpawnOutcome outcome;
  std::thread([&] { outcome = spawn_process(request); }).join();
  close(devnull);
  ASSERT_GT(outcome.pid, 0) << outcome.error;
  int status = 0;
  bool reaped = eventually([&] { return waitpid(outcome.pid, &status, WNOHANG) == outcome.pid; });
  if (!reaped) {
    ::kill(outcome.pid, SIGKILL);
    waitpid(outcome.pid, &status, 0);
    FAIL() << "the job outlived the thread that spawned it";
  }
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

// Spawns /bin/true as nobody in a child process of the test that lacks `capability`, and
// returns the spawn error.
std::string spawn_error_without(int capability, const Identity& user) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    std::string error = "capget/capset failed";
    if (syscall(SYS_capget, &header, data) == 0) {
      data[0].effective &= ~(1u << capability);
      data[0].permitted &= ~(1u << capability);
      if (syscall(SYS_capset, &header, data) == 0) {
        SpawnRequest request;
        request.program = "/bin/true";
        request.argv = {"true"};
        request.cwd = "/";
        request.run_as = user;
        request.stdin_fd = request.stdout_fd = request.stderr_fd = above_stdio(dup(2));
        SpawnOutcome outcome = spawn_process(request);
        error = outcome.pid > 0 ? "started" : outcome.error;
      }
    }
    ssize_t n = ::write(fds[1], error.data(), error.size());
    _exit(n == static_cast<ssize_t>(error.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  waitpid(child, nullptr, 0);
  return out;
}

TEST_F(JobUserTest, FailureToSwitchNamesTheStepAndTheReason) {
  executor_.reset();  // no executor thread while the test forks
  EXPECT_EQ(spawn_error_without(CAP_SETUID, nobody_),
            "cannot switch to user nobody (setuid): Operation not permitted");
  EXPECT_EQ(spawn_error_without(CAP_SETGID, nobody_),
            "cannot switch to user nobody (setgroups): Operation not permitted");
}

TEST_F(JobUserTest, SandboxRunsAsTheUserToo) {
  ExecutorOptions o = as_nobody();
  o.isolation = Isolation::kSandbox;
  executor(o);
  ExecResult probe = run("probe", "true");
  ASSERT_NE(probe.reason, EndReason::kSpawnError) << probe.error;
  if (probe.exit_code != 0) {
    GTEST_SKIP() << "bubblewrap cannot create a sandbox as nobody here: " << probe.stderr_tail;
  }
  ExecResult r = run("sandboxed", "id -u; id -g; touch mine && echo wrote; touch /etc/x || true");
  ASSERT_EQ(r.exit_code, 0) << r.error << r.stderr_tail;
  EXPECT_EQ(r.stdout_tail,
            std::to_string(nobody_.uid) + "\n" + std::to_string(nobody_.gid) + "\nwrote\n");
  EXPECT_EQ(owner_of(attempt_dir("sandboxed") / "mine"), nobody_.uid);
}

}  // namespace job_user_test
}  // namespace nomad::worker::testing
