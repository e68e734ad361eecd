// Isolation::kSandbox: the same jobs under bubblewrap, with a read-only host, a private /tmp,
// no network and their own pid namespace.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "executor_harness.h"
#include "worker/executor.h"

namespace nomad::worker::testing {
namespace {

TEST_F(ExecutorTest, SandboxWithoutBubblewrapIsASpawnError) {
  ExecutorOptions o = options();
  o.isolation = Isolation::kSandbox;
  o.bwrap = "/nonexistent/bwrap";
  executor(o);
  ExecResult r = run("nobwrap", "true");
  EXPECT_EQ(r.reason, EndReason::kSpawnError);
  EXPECT_EQ(r.error, "the sandbox executor needs bubblewrap (apt-get install bubblewrap)");
}

class SandboxTest : public ExecutorTest {
 protected:
  void SetUp() override {
    ExecutorOptions o = options();
    o.isolation = Isolation::kSandbox;
    executor(o);
    ExecResult probe = run("probe", "true");
    // Missing bubblewrap is a failure (scripts/install-deps installs it); a bubblewrap that
    // cannot build a sandbox in this environment (no user namespaces, seccomp) is a skip.
    ASSERT_NE(probe.reason, EndReason::kSpawnError) << probe.error;
    if (probe.exit_code != 0) {
      GTEST_SKIP() << "bubblewrap cannot create a sandbox here: " << probe.stderr_tail
                   << probe.error;
    }
  }

  // A unique name for files the host and the job look for.
  std::string unique(const std::string& what) {
    return "nomad-sandbox-" + what + "-" + std::to_string(getpid());
  }
};

TEST_F(SandboxTest, ExitCodeOutputAndEnvironment) {
  ExecSpec s = spec("basic", "echo out; echo err >&2; echo $NOMAD_LITE_JOB_ID $GREETING; exit 3");
  s.env = {{"GREETING", "hi"}};
  ExecResult r = run(std::move(s));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_tail, "out\nbasic hi\n");
  EXPECT_EQ(r.stderr_tail, "err\n");
}

TEST_F(SandboxTest, CannotWriteOutsideTheWorkDir) {
  std::string etc_file = "/etc/" + unique("etc");
  std::string data_file = (root_.dir() / "jobs" / unique("data")).string();
  ExecResult r = run("writes", "touch " + etc_file + " || echo etc-refused; touch " + data_file +
                                   "; pwd; touch inside && echo inside-ok");
  EXPECT_FALSE(std::filesystem::exists(etc_file));
  EXPECT_FALSE(std::filesystem::exists(data_file));
  EXPECT_EQ(r.stdout_tail, "etc-refused\n" + (attempt_dir("writes")).string() + "\ninside-ok\n");
  EXPECT_TRUE(std::filesystem::exists(attempt_dir("writes") / "inside"));
  std::error_code ec;
  std::filesystem::remove(etc_file, ec);
}

TEST_F(SandboxTest, TmpIsPrivate) {
  std::string host_file = "/tmp/" + unique("host");
  std::string job_file = "/tmp/" + unique("job");
  { std::ofstream(host_file) << "host"; }
  ExecResult r = run("tmp", "test -e " + host_file + " && echo host-visible; echo job > " +
                                job_file + " && echo job-wrote");
  EXPECT_EQ(r.stdout_tail, "job-wrote\n");
  EXPECT_FALSE(std::filesystem::exists(job_file));
  std::filesystem::remove(host_file);
}

TEST_F(SandboxTest, NoNetwork) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string connect = "bash -c 'echo hi > /dev/tcp/127.0.0.1/" +
                        std::to_string(ntohs(addr.sin_port)) + "' 2>/dev/null && echo connected";

  ExecResult sandboxed = run("net", connect + "; cat /proc/net/dev | tail -n +3 | cut -d: -f1");
  EXPECT_EQ(sandboxed.stdout_tail, "    lo\n");  // only its own loopback

  // The same command outside the sandbox does connect: the check above can fail.
  ExecutorOptions raw = options();
  raw.root = root_.dir() / "raw";
  Recorder raw_recorder;
  {
    Executor e(raw, raw_recorder.started_fn(), raw_recorder.finished_fn());
    e.start(spec("net", connect));
    auto r = raw_recorder.wait_finished({"net", 1});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stdout_tail, "connected\n");
  }
  close(listener);
}

TEST_F(SandboxTest, OwnPidNamespace) {
  ExecResult r = run("pids", "ls /proc | grep -c '^[0-9]'");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  EXPECT_LE(std::stoi(r.stdout_tail), 5) << "processes of the host are visible";
}

TEST_F(SandboxTest, TimeoutStopsEverythingInTheSandbox) {
  // A distinctive argument to find the job's processes among the host's.
  ExecSpec s = spec("slow", "sleep 30.4242 & sleep 30.4242; wait");
  s.timeout = 200ms;
  ExecResult r = run(std::move(s));
  EXPECT_EQ(r.reason, EndReason::kTimeout);
  EXPECT_EQ(r.signal, SIGTERM);  // bubblewrap itself got it
  auto alive = [] {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      std::string cmdline = read_file(entry.path() / "cmdline");
      if (cmdline.find("30.4242") != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(eventually([&] { return !alive(); })) << "a sandboxed sleep survived";
}

}  // namespace
}  // namespace nomad::worker::testing
