// The Executor with real processes: exit status, output capture, environment, limits,
// timeouts and kills of whole process groups, reading output while a job runs.

#include "worker/executor.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <set>

#include "executor_harness.h"
#include "worker/output.h"

namespace nomad::worker::testing {
namespace {

std::set<std::string> lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.insert(line);
  return out;
}

// No process is left in the group (zombies reparented to us are reaped first).
bool group_is_gone(pid_t pgid) {
  siginfo_t info;
  while (waitid(P_PGID, pgid, &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0) {
  }
  return ::kill(-pgid, 0) != 0 && errno == ESRCH;
}

TEST_F(ExecutorTest, ExitCodeZeroWithStdoutAndStderrSeparately) {
  ExecResult r = run("ok", "echo to-out; echo to-err >&2");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.reason, EndReason::kExited);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.stdout_tail, "to-out\n");
  EXPECT_EQ(r.stderr_tail, "to-err\n");
  EXPECT_FALSE(r.stdout_truncated);
  EXPECT_FALSE(r.stderr_truncated);
  EXPECT_EQ(read_file(output_file("ok", "stdout")), "to-out\n");
  EXPECT_EQ(read_file(output_file("ok", "stderr")), "to-err\n");
  EXPECT_GT(r.started_at_ms, 1'600'000'000'000);
  EXPECT_GE(r.finished_at_ms, r.started_at_ms);
}

TEST_F(ExecutorTest, NonZeroExitCode) {
  ExecResult r = run("three", "exit 3");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.reason, EndReason::kExited);
  EXPECT_EQ(r.error, "exited with code 3");
}

TEST_F(ExecutorTest, EnvironmentIsCleanWithUserValuesAndAttempt) {
  ASSERT_EQ(setenv("NOMAD_WORKER_TEST_SERVER_SECRET", "must-not-leak", 1), 0);
  ExecSpec s = spec("env-job", "env", 2);
  s.env = {{"GREETING", "hi there"}, {"EMPTY", ""}, {"LANG", "C"}};
  ExecResult r = run(std::move(s));
  unsetenv("NOMAD_WORKER_TEST_SERVER_SECRET");
  ASSERT_EQ(r.exit_code, 0) << r.error << r.stderr_tail;
  std::set<std::string> env = lines(r.stdout_tail);
  EXPECT_FALSE(r.stdout_tail.find("must-not-leak") != std::string::npos) << r.stdout_tail;
  std::string work = (attempt_dir("env-job", 2)).string();
  std::set<std::string> expected = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=" + work,
      "LANG=C",  // the user's value wins over the default C.UTF-8
      "GREETING=hi there",
      "EMPTY=",
      "NOMAD_LITE_JOB_ID=env-job",
      "NOMAD_LITE_ATTEMPT=2",
  };
  for (const std::string& e : expected) EXPECT_TRUE(env.contains(e)) << e << "\n" << r.stdout_tail;
  // Only what the shell adds itself besides those.
  for (const std::string& e : env) {
    std::string name = e.substr(0, e.find('='));
    EXPECT_TRUE(name == "PWD" || name == "OLDPWD" || name == "SHLVL" || name == "_" ||
                std::any_of(expected.begin(), expected.end(),
                            [&](const std::string& x) { return x.starts_with(name + "="); }))
        << "unexpected variable " << e;
  }
}

TEST_F(ExecutorTest, WorkingDirectoryIsTheAttemptWorkDir) {
  ExecResult r = run("cwd", "pwd; touch made-here");
  ASSERT_EQ(r.exit_code, 0) << r.error << r.stderr_tail;
  EXPECT_EQ(r.stdout_tail, (attempt_dir("cwd")).string() + "\n");
  EXPECT_TRUE(std::filesystem::exists(attempt_dir("cwd") / "made-here"));
}

TEST_F(ExecutorTest, StdinIsDevNull) {
  ExecSpec s = spec("stdin", "cat; readlink /proc/self/fd/0");
  s.timeout = 10s;  // a cat reading a terminal or pipe would end in a timeout
  ExecResult r = run(std::move(s));
  EXPECT_EQ(r.reason, EndReason::kExited);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_tail, "/dev/null\n");
}

TEST_F(ExecutorTest, NoServerFileDescriptorReachesTheJob) {
  ExecResult r = run("fds", "ls /proc/self/fd");
  ASSERT_EQ(r.exit_code, 0) << r.error;
  // 0, 1, 2 and the directory ls itself opened.
  EXPECT_EQ(lines(r.stdout_tail).size(), 4u) << r.stdout_tail;
}

TEST_F(ExecutorTest, TimeoutSendsSigtermToTheGroup) {
  ExecSpec s = spec("slow", "sleep 30");
  s.timeout = 200ms;
  auto t0 = std::chrono::steady_clock::now();
  ExecResult r = run(std::move(s));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.reason, EndReason::kTimeout);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_EQ(r.error, "timed out after 200ms");
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_GE(r.finished_at_ms - r.started_at_ms, 190);
}

TEST_F(ExecutorTest, JobIgnoringSigtermGetsSigkillAfterGrace) {
  // The timeout leaves the shell ample time to set its trap first.
  ExecSpec s = spec("stubborn", "trap '' TERM; sleep 30");
  s.timeout = 1s;
  auto t0 = std::chrono::steady_clock::now();
  ExecResult r = run(std::move(s));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.reason, EndReason::kTimeout);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.error, "timed out after 1s (SIGKILL after 300ms: SIGTERM did not stop it)");
  EXPECT_GE(elapsed, 1300ms);  // timeout + grace
  EXPECT_LT(elapsed, 10s);
}

TEST_F(ExecutorTest, KillLeavesNoProcessInTheGroup) {
  // Children orphaned by the kill come to this process, which reaps them (group_is_gone).
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  ExecutorOptions o = options();
  o.job_namespaces = false;  // $$ is the host's pid only outside a PID namespace
  executor(o);
  AttemptKey key{"killme", 1};
  executor().start(spec("killme", "echo $$; sleep 30 & sleep 30; wait"));
  std::string first = read_until(key, 0, 1);
  ASSERT_FALSE(first.empty());
  pid_t pgid = std::stoi(first);
  // Both sleeps are up before the kill: two more processes in the group than the shell.
  ASSERT_TRUE(eventually([&] {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string stat = read_file(entry.path() / "stat");
      auto close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(stat.substr(close + 2));
      std::string state;
      long ppid = 0, pgrp = 0;
      rest >> state >> ppid >> pgrp;
      if (pgrp == pgid) ++count;
    }
    return count == 3;
  }));
  EXPECT_EQ(executor().running(), std::vector<AttemptKey>{key});
  executor().kill(key);
  auto r = recorder_.wait_finished(key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, EndReason::kKilled);
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_EQ(r->error, "killed on request");
  EXPECT_TRUE(eventually([&] { return group_is_gone(pgid); }))
      << "a process of group " << pgid << " is still alive";
  EXPECT_TRUE(executor().running().empty());
}

TEST_F(ExecutorTest, KillOfAJobIgnoringSigtermEscalates) {
  AttemptKey key{"stubborn-kill", 1};
  executor().start(spec("stubborn-kill", "trap '' TERM; echo ready; sleep 30"));
  ASSERT_EQ(read_until(key, 0, 6), "ready\n");
  executor().kill(key);
  executor().kill(key);  // twice: still one result
  auto r = recorder_.wait_finished(key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, EndReason::kKilled);
  EXPECT_EQ(r->signal, SIGKILL);
}

TEST_F(ExecutorTest, KillOfUnknownOrFinishedAttemptIsANoOp) {
  executor().kill({"nobody", 1});
  ExecResult r = run("done", "true");
  executor().kill({"done", 1});
  EXPECT_EQ(r.reason, EndReason::kExited);
  // The executor still works.
  EXPECT_EQ(run("after", "echo still").stdout_tail, "still\n");
}

TEST_F(ExecutorTest, OutputCapEndsTheFileWithAMarkerAndTheJobStillCompletes) {
  ExecutorOptions o = options();
  o.output_cap = 1000;
  o.tail_bytes = 100;
  executor(o);
  // 1 MB, far more than a pipe holds: the job would block if the rest were not drained.
  ExecResult r = run("chatty", "head -c 1000000 /dev/zero | tr '\\0' a; echo done >&2");
  EXPECT_EQ(r.exit_code, 0) << r.error;
  std::string marker = "\n[nomad-lite: output truncated at 1000 bytes]\n";
  std::string file = read_file(output_file("chatty", "stdout"));
  ASSERT_EQ(file.size(), 1000 + marker.size());
  EXPECT_EQ(file.substr(0, 1000), std::string(1000, 'a'));
  EXPECT_TRUE(file.ends_with(marker));
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(r.stdout_tail, file.substr(file.size() - 100));
  EXPECT_EQ(r.stderr_tail, "done\n");
  EXPECT_FALSE(r.stderr_truncated);
  auto read = executor().read_output({"chatty", 1}, false, 0, 1 << 20, 0ms);
  EXPECT_TRUE(read.truncated);
  EXPECT_TRUE(read.finished);
  EXPECT_EQ(read.data, file);
}

TEST_F(ExecutorTest, DefaultCapMarkerSaysTenMiB) {
  EXPECT_EQ(truncation_marker(ExecutorOptions{}.output_cap),
            "\n[nomad-lite: output truncated at 10 MiB]\n");
}

TEST_F(ExecutorTest, TailKeepsTheEndOfLongOutput) {
  ExecutorOptions o = options();
  o.tail_bytes = 10;
  executor(o);
  ExecResult r = run("long", "seq 1 1000");
  EXPECT_EQ(r.stdout_tail, "\n999\n1000\n");
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_FALSE(r.stderr_truncated);
  std::string file = read_file(output_file("long", "stdout"));
  EXPECT_TRUE(file.starts_with("1\n2\n3\n"));
  EXPECT_TRUE(file.ends_with("999\n1000\n"));
}

TEST_F(ExecutorTest, ReadOutputWaitsForOutputPrintedLater) {
  AttemptKey key{"slow-echo", 1};
  executor().start(spec("slow-echo", "echo a; sleep 0.5; echo b"));
  auto first = executor().read_output(key, false, 0, 100, 10s);
  ASSERT_TRUE(first.status.is_ok()) << first.status.message();
  EXPECT_EQ(first.data, "a\n");
  EXPECT_FALSE(first.finished);
  // Nothing at offset 2 yet: blocks until "b" arrives (woken by the pump, not a poll).
  auto t0 = std::chrono::steady_clock::now();
  auto second = executor().read_output(key, false, 2, 100, 10s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ASSERT_TRUE(second.status.is_ok());
  EXPECT_EQ(second.data, "b\n");
  // At the end: waits for the attempt to end, then says so.
  auto end = executor().read_output(key, false, 4, 100, 10s);
  EXPECT_TRUE(end.status.is_ok());
  EXPECT_EQ(end.data, "");
  EXPECT_TRUE(end.finished);
  ASSERT_TRUE(recorder_.wait_finished(key));
}

TEST_F(ExecutorTest, ReadOutputWithoutWaitReturnsAtOnce) {
  AttemptKey key{"quiet", 1};
  ExecSpec s = spec("quiet", "sleep 30");
  s.timeout = 20s;
  executor().start(std::move(s));
  ASSERT_TRUE(recorder_.wait_started(key));
  auto t0 = std::chrono::steady_clock::now();
  auto r = executor().read_output(key, true, 0, 100, 0ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.data, "");
  EXPECT_FALSE(r.finished);
  auto waited = executor().read_output(key, true, 0, 100, 50ms);  // times out, still empty
  EXPECT_EQ(waited.data, "");
  EXPECT_FALSE(waited.finished);
  executor().kill(key);
  ASSERT_TRUE(recorder_.wait_finished(key));
}

TEST_F(ExecutorTest, ReadOutputRangesAndErrors) {
  ExecResult r = run("ranges", "printf 0123456789; printf err >&2");
  ASSERT_EQ(r.exit_code, 0);
  auto mid = executor().read_output({"ranges", 1}, false, 3, 4, 0ms);
  EXPECT_EQ(mid.data, "3456");
  EXPECT_FALSE(mid.finished);
  auto rest = executor().read_output({"ranges", 1}, false, 7, 100, 1s);
  EXPECT_EQ(rest.data, "789");
  EXPECT_TRUE(rest.finished);
  auto past = executor().read_output({"ranges", 1}, false, 50, 100, 1s);
  EXPECT_EQ(past.data, "");
  EXPECT_TRUE(past.finished);
  auto err = executor().read_output({"ranges", 1}, true, 0, 100, 0ms);
  EXPECT_EQ(err.data, "err");
  EXPECT_FALSE(err.truncated);
  auto unknown = executor().read_output({"ranges", 9}, false, 0, 100, 1s);
  EXPECT_FALSE(unknown.status.is_ok());
  EXPECT_NE(unknown.status.message().find("no output of job ranges attempt 9"), std::string::npos);
  auto bad = executor().read_output({"../etc", 1}, false, 0, 100, 0ms);
  EXPECT_FALSE(bad.status.is_ok());
}

TEST_F(ExecutorTest, ASilentJobLeavesNoOutputFilesAndReadsAsEmpty) {
  ExecResult r = run("silent", "true");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::filesystem::is_directory(attempt_dir("silent")));
  EXPECT_FALSE(std::filesystem::exists(output_file("silent", "stdout")));
  EXPECT_FALSE(std::filesystem::exists(output_file("silent", "stderr")));
  for (bool from_stderr : {false, true}) {
    auto read = executor().read_output({"silent", 1}, from_stderr, 0, 100, 1s);
    EXPECT_TRUE(read.status.is_ok()) << read.status.message();
    EXPECT_EQ(read.data, "");
    EXPECT_TRUE(read.finished);
  }
}

TEST_F(ExecutorTest, SpawnErrorWhenTheShellCannotBeExecuted) {
  ExecutorOptions o = options();
  o.shell = "/nonexistent/sh";
  executor(o);
  ExecResult r = run("noshell", "true");
  EXPECT_EQ(r.reason, EndReason::kSpawnError);
  EXPECT_EQ(r.error, "cannot execute /nonexistent/sh: No such file or directory");
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_FALSE(recorder_.was_started({"noshell", 1}));
  EXPECT_TRUE(executor().running().empty());
}

TEST_F(ExecutorTest, SpawnErrorWhenTheWorkDirCannotBeCreated) {
  ExecutorOptions o = options();
  o.root = root_.dir() / "a-file";
  { std::ofstream(o.root) << "not a directory"; }
  executor(o);
  ExecResult r = run("nodir", "true");
  EXPECT_EQ(r.reason, EndReason::kSpawnError);
  EXPECT_TRUE(r.error.starts_with("cannot create the work directory")) << r.error;
}

TEST_F(ExecutorTest, OddInputIsRefusedWithoutACrash) {
  ExecResult nul = run("nul", std::string("echo a\0rm -rf /", 15));
  EXPECT_EQ(nul.reason, EndReason::kSpawnError);
  EXPECT_EQ(nul.error, "the command contains a NUL byte");

  ExecSpec bad_name = spec("badenv", "true");
  bad_name.env = {{"A=B", "x"}};
  EXPECT_EQ(run(std::move(bad_name)).reason, EndReason::kSpawnError);
  ExecSpec nul_value = spec("nulenv", "true");
  nul_value.env = {{"A", std::string("x\0y", 3)}};
  EXPECT_EQ(run(std::move(nul_value)).reason, EndReason::kSpawnError);

  ExecSpec huge = spec("hugeenv", "true");
  huge.env = {{"BIG", std::string(4 << 20, 'x')}};  // above what execve accepts
  ExecResult big = run(std::move(huge));
  EXPECT_EQ(big.reason, EndReason::kSpawnError);
  EXPECT_EQ(big.error, "cannot execute /bin/sh: Argument list too long");

  ExecSpec many = spec("manyenv", "echo $V999");
  for (int i = 0; i < 1000; ++i) many.env["V" + std::to_string(i)] = std::string(100, 'v');
  EXPECT_EQ(run(std::move(many)).stdout_tail, std::string(100, 'v') + "\n");

  EXPECT_EQ(run("../escape", "true").reason, EndReason::kSpawnError);
  EXPECT_FALSE(std::filesystem::exists(root_.dir() / "escape"));
  EXPECT_EQ(run("", "true").reason, EndReason::kSpawnError);
}

TEST_F(ExecutorTest, SignalOfTheJobItselfIsReported) {
  ExecResult r = run("suicide", "kill -9 $$");
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_EQ(r.reason, EndReason::kExited);
  EXPECT_EQ(r.error, "terminated by SIGKILL");
}

TEST_F(ExecutorTest, WasStartedOnceTheDirectoryExistsAndRemoveOutput) {
  AttemptKey key{"retained", 1};
  EXPECT_FALSE(executor().was_started(key));
  ExecResult r = run("retained", "echo x");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(executor().was_started(key));
  EXPECT_FALSE(executor().was_started({"retained", 2}));
  // A new Executor over the same root (a restarted node) sees it too.
  executor(options());
  EXPECT_TRUE(executor().was_started(key));
  EXPECT_EQ(executor().read_output(key, false, 0, 100, 0ms).data, "x\n");

  run(spec("retained", "true", 2));
  executor().remove_output(key);
  EXPECT_FALSE(executor().was_started(key));
  EXPECT_FALSE(std::filesystem::exists(attempt_dir("retained")));
  EXPECT_FALSE(std::filesystem::exists(output_file("retained", "stdout")));
  EXPECT_TRUE(std::filesystem::exists(attempt_dir("retained", 2)));  // attempt 2 left
  executor().remove_output({"retained", 2});
  EXPECT_FALSE(std::filesystem::exists(attempt_dir("retained", 2)));
  executor().remove_output({"../..", 1});  // ignored
  EXPECT_TRUE(std::filesystem::exists(root_.dir()));
}

TEST_F(ExecutorTest, RemoveOutputIsANoOpWhileRunning) {
  AttemptKey key{"busy", 1};
  executor().start(spec("busy", "echo up; sleep 30"));
  ASSERT_EQ(read_until(key, 0, 3), "up\n");
  executor().remove_output(key);
  EXPECT_TRUE(executor().was_started(key));
  executor().kill(key);
  ASSERT_TRUE(recorder_.wait_finished(key));
}

TEST_F(ExecutorTest, ResourceLimitsAreSetInTheJob) {
  ExecResult r = run("limits", "ulimit -c; ulimit -n; ulimit -Hn");
  EXPECT_EQ(r.stdout_tail, "0\n4096\n4096\n");
  ExecutorOptions o = options();
  o.max_open_files = 64;
  executor(o);
  EXPECT_EQ(run("limits64", "ulimit -n").stdout_tail, "64\n");
}

TEST_F(ExecutorTest, SignalsAreDefaultInTheJobEvenWhenTheServerIgnoresThem) {
  struct sigaction ignore = {};
  struct sigaction old = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old);
  sigaction(SIGINT, &ignore, nullptr);
  // SigIgn and SigBlk of the job: nothing ignored, nothing blocked.
  ExecResult r = run("sigs", "grep -E '^Sig(Ign|Blk)' /proc/self/status");
  sigaction(SIGPIPE, &old, nullptr);
  signal(SIGINT, SIG_DFL);
  EXPECT_EQ(r.stdout_tail, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST_F(ExecutorTest, FinishesWithoutWaitingForABackgroundChild) {
  // The grandchild keeps stdout open for 30 s; the attempt ends when the shell does.
  auto t0 = std::chrono::steady_clock::now();
  ExecResult r = run("bg", "sleep 30 & echo $!");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_FALSE(r.stdout_tail.empty());
  ::kill(std::stoi(r.stdout_tail), SIGKILL);
}

TEST_F(ExecutorTest, RunningListsQueuedAndRunningAttemptsAndDuplicatesAreIgnored) {
  AttemptKey key{"dup", 1};
  executor().start(spec("dup", "echo first; sleep 30"));
  executor().start(spec("dup", "echo second"));
  EXPECT_EQ(executor().running(), std::vector<AttemptKey>{key});
  ASSERT_EQ(read_until(key, 0, 6), "first\n");
  executor().kill(key);
  auto r = recorder_.wait_finished(key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stdout_tail, "first\n");
  EXPECT_TRUE(executor().running().empty());
}

TEST_F(ExecutorTest, CallbacksMayCallBackIntoTheExecutor) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::vector<AttemptKey>> seen;
  Executor* self = nullptr;
  Executor e(
      options(), [&](const AttemptKey&, int64_t) { self->running(); },
      [&](ExecResult r) {
        self->remove_output(r.key);  // allowed: no longer running
        std::lock_guard lock(mu);
        seen = self->running();
        cv.notify_all();
      });
  self = &e;
  e.start(spec("reentrant", "true"));
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return seen.has_value(); }));
  EXPECT_TRUE(seen->empty());  // the finished attempt is no longer listed
  EXPECT_FALSE(e.was_started({"reentrant", 1}));
}

TEST_F(ExecutorTest, DestructorKillsWhatIsStillRunning) {
  ExecutorOptions o = options();
  o.job_namespaces = false;  // $$ is the host's pid only outside a PID namespace
  executor(o);
  AttemptKey key{"orphan", 1};
  executor().start(spec("orphan", "echo $$; exec sleep 30"));
  std::string pid = read_until(key, 0, 1);
  ASSERT_FALSE(pid.empty());
  executor_.reset();
  // Reaped by the destructor: the pid is gone at once.
  EXPECT_EQ(::kill(std::stoi(pid), 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(recorder_.wait_finished(key, 0ms));  // no callback during destruction
}

TEST_F(ExecutorTest, ManyJobsInARowAllComplete) {
  constexpr int kSequential = 100;
  for (int i = 0; i < kSequential; ++i) {
    ExecResult r = run("seq-" + std::to_string(i), "true");
    ASSERT_EQ(r.exit_code, 0) << i << ": " << r.error;
  }
  // 500 at once; the rate is printed for information, never asserted.
  constexpr int kBurst = 500;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kBurst; ++i) executor().start(spec("burst-" + std::to_string(i), "true"));
  ASSERT_TRUE(recorder_.wait_finished_count(kSequential + kBurst, 120s));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& [key, r] : recorder_.finished_results()) {
    ASSERT_EQ(r.exit_code, 0) << key.job_id << ": " << r.error;
  }
  EXPECT_TRUE(executor().running().empty());
  std::printf("[ rate     ] %d `true` jobs in %.3f s: %.0f spawns/s\n", kBurst, seconds,
              kBurst / seconds);
}

}  // namespace
}  // namespace nomad::worker::testing
