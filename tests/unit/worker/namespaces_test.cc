// Jobs of a root server in their own PID and mount namespace (worker/namespaces.h,
// src/init/job_init.cc): real processes under nomad-lite-init. Each job sees only its own
// processes in /proc, and everything the executor promises outside (exit codes, signals,
// output, kill, timeouts, the kill grace) holds unchanged.

#include "worker/namespaces.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "executor_harness.h"
#include "worker/executor.h"

namespace nomad::worker::testing {
namespace {

class NamespaceTest : public ExecutorTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "namespaces of their own are for jobs of a root server";
    // The init is built next to this test binary; a kernel that refuses is a failure here.
    ASSERT_EQ(probe_job_namespaces(job_init_path("")), "");
    executor(as_user(""));
  }

  ExecutorOptions as_user(const std::string& user) {
    ExecutorOptions o = options();
    o.job_namespaces = true;
    o.job_user = user;
    return o;
  }

  // Whether a process whose command line holds `marker` runs anywhere on the host.
  static bool host_runs(const std::string& marker) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      if (read_file(entry.path() / "cmdline").find(marker) != std::string::npos) return true;
    }
    return false;
  }
};

TEST_F(NamespaceTest, ExitCodeOutputAndEnvironmentAreThoseOfTheJob) {
  ExecSpec s = spec("basic", "echo out; echo err >&2; echo $NOMAD_LITE_JOB_ID $GREETING; exit 3");
  s.env = {{"GREETING", "hi"}};
  ExecResult r = run(std::move(s));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.stdout_tail, "out\nbasic hi\n");
  EXPECT_EQ(r.stderr_tail, "err\n");
}

TEST_F(NamespaceTest, ASignalThatEndsTheJobEndsTheAttemptTheSameWay) {
  for (int sig : {SIGKILL, SIGTERM, SIGSEGV, SIGINT}) {
    ExecResult r = run("sig-" + std::to_string(sig), "kill -" + std::to_string(sig) + " $$");
    EXPECT_FALSE(r.exit_code.has_value()) << sig;
    EXPECT_EQ(r.signal, sig) << r.error << r.stderr_tail;
  }
}

TEST_F(NamespaceTest, TheJobSeesOnlyItsOwnProcesses) {
  // Another job, of the same user, with a secret in its environment.
  ExecSpec other = spec("other", "sleep 30.6161");
  other.env = {{"OTHER_SECRET", "not-for-you"}};
  executor().start(std::move(other));
  ASSERT_TRUE(eventually([] { return host_runs("30.6161"); }));

  ExecResult r = run("looker",
                     "ls /proc | grep '^[0-9]' | sort -n | tr '\\n' ' '; echo; "
                     "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c SECRET");
  ASSERT_TRUE(r.stdout_tail.find('\n') != std::string::npos) << r.stdout_tail << r.stderr_tail;
  std::istringstream pids(r.stdout_tail.substr(0, r.stdout_tail.find('\n')));
  std::set<int> seen;
  for (int pid; pids >> pid;) seen.insert(pid);
  // The namespace's init (1), the shell (2) and the pipeline's few processes: nothing else.
  EXPECT_TRUE(seen.contains(1) && seen.contains(2)) << r.stdout_tail;
  EXPECT_LE(*seen.rbegin(), 10) << "processes of the host or of another job are visible: "
                                << r.stdout_tail;
  EXPECT_EQ(r.stdout_tail.substr(r.stdout_tail.find('\n') + 1), "0\n")
      << "another job's environment was readable";
  EXPECT_EQ(std::to_string(getpid()).size() > 0 &&
                r.stdout_tail.find(" " + std::to_string(getpid()) + " ") == std::string::npos,
            true);
  executor().kill({"other", 1});
  ASSERT_TRUE(recorder_.wait_finished({"other", 1}));
}

TEST_F(NamespaceTest, TheServersEnvironmentIsOutOfReach) {
  ASSERT_EQ(setenv("NOMAD_NAMESPACE_TEST_SECRET", "must-not-leak", 1), 0);
  std::string self = std::to_string(getpid());
  ExecResult r = run("peek", "cat /proc/" + self + "/environ /proc/1/environ 2>&1 | tr '\\0' ' '");
  unsetenv("NOMAD_NAMESPACE_TEST_SECRET");
  EXPECT_EQ(r.stdout_tail.find("must-not-leak"), std::string::npos) << r.stdout_tail;
}

TEST_F(NamespaceTest, KillEndsTheJobWithSigtermAndNothingOutlivesIt) {
  AttemptKey key{"killme", 1};
  executor().start(spec("killme", "sleep 30.7171 & sleep 30.7171; wait"));
  ASSERT_TRUE(eventually([] { return host_runs("30.7171"); }));
  executor().kill(key);
  auto r = recorder_.wait_finished(key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, EndReason::kKilled);
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_TRUE(eventually([] { return !host_runs("30.7171"); })) << "a sleep survived the kill";
}

TEST_F(NamespaceTest, TimeoutAndKillGraceStillApply) {
  ExecSpec polite = spec("polite", "trap 'echo got TERM; exit 5' TERM; sleep 30.8181 & wait");
  polite.timeout = 200ms;
  ExecResult r = run(std::move(polite));
  EXPECT_EQ(r.reason, EndReason::kTimeout);
  EXPECT_EQ(r.exit_code, 5) << "SIGTERM reached the job once, and its handler ran";
  EXPECT_EQ(r.stdout_tail, "got TERM\n");

  ExecSpec stubborn = spec("stubborn", "trap '' TERM; sleep 30.9191; sleep 30.9191");
  stubborn.timeout = 200ms;
  r = run(std::move(stubborn));
  EXPECT_EQ(r.reason, EndReason::kTimeout);
  EXPECT_EQ(r.signal, SIGKILL) << "killed after the grace";
  EXPECT_TRUE(eventually([] { return !host_runs("30.8181") && !host_runs("30.9191"); }));
}

TEST_F(NamespaceTest, AJobUserStillOwnsAndWritesItsWorkDirectory) {
  // As the server keeps its data dir: searchable, not listable (node/secret_files.h).
  ASSERT_EQ(chmod(root_.dir().c_str(), 0711), 0);
  executor(as_user("nobody"));
  ExecResult r = run("ids", "id -u; touch here && echo hi > \"$HOME/file\" && cat file");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  EXPECT_EQ(r.stdout_tail, "65534\nhi\n");
}

}  // namespace
}  // namespace nomad::worker::testing
