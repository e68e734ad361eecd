// The Executor with real cgroups: a memory hog ends as oom near its limit, a CPU-limited busy
// loop gets about its share, a plain job's usage is recorded, leftovers die with the attempt
// and its cgroup is removed. Skipped where this process cannot create cgroups (not root, no
// cgroup fs); the usage without cgroups (rusage) is tested everywhere.

#include <errno.h>
#include <signal.h>

#include <cstdio>

#include "executor_harness.h"
#include "worker/cgroup.h"

namespace nomad::worker::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class CgroupLimitsTest : public ExecutorTest {
 protected:
  // The executor, or a skip where it runs without cgroups.
  bool with_cgroups() { return executor().cgroup_version() != 0; }
};

#define SKIP_WITHOUT_CGROUPS()                                                                  \
  if (!with_cgroups()) {                                                                        \
    GTEST_SKIP() << "cgroups are not usable here (" << executor().limits_note()                 \
                 << "): run as root on a machine with a writable cgroup fs to test the limits"; \
  }

// Every attempt cgroup under the executor's tree is gone (checked in the memory hierarchy).
bool attempt_cgroups_gone(const std::string& note) {
  // The note names the tree: "... memory at DIR, ..." (v1) or "cgroup v2 at DIR".
  size_t at = note.find(" at ");
  if (at == std::string::npos) return false;
  std::string dir = note.substr(at + 4);
  dir = dir.substr(0, dir.find(','));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_directory() && entry.path().filename().string().starts_with("attempt-")) {
      return false;
    }
  }
  return !ec;
}

TEST_F(CgroupLimitsTest, MemoryHogIsKilledAsOomWithAPeakNearItsLimit) {
  SKIP_WITHOUT_CGROUPS();
  // tail keeps the one endless line in memory: it grows until the kernel kills it.
  ExecSpec s = spec("hog", "head -c 1000M /dev/zero | tail -n 1");
  s.resources.memory_bytes = 64 * kMiB;
  s.timeout = 60s;
  ExecResult r = run(std::move(s));
  EXPECT_EQ(r.reason, EndReason::kOom) << r.error;
  EXPECT_NE(r.error.find("killed by the kernel: out of memory (limit 67108864 bytes"),
            std::string::npos)
      << r.error;
  EXPECT_GE(r.peak_memory_bytes, 56 * kMiB);
  EXPECT_LE(r.peak_memory_bytes, 64 * kMiB);
  std::printf("[ oom      ] peak %llu bytes of a 64 MiB limit\n",
              static_cast<unsigned long long>(r.peak_memory_bytes));
  EXPECT_TRUE(eventually([&] { return attempt_cgroups_gone(executor().limits_note()); }));
}

TEST_F(CgroupLimitsTest, AJobWithinItsLimitIsNotOom) {
  SKIP_WITHOUT_CGROUPS();
  ExecSpec s = spec("fits", "head -c 16M /dev/zero | tail -n 1 | wc -c");
  s.resources.memory_bytes = 128 * kMiB;
  ExecResult r = run(std::move(s));
  EXPECT_EQ(r.reason, EndReason::kExited) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_tail, "16777216\n");
  EXPECT_GE(r.peak_memory_bytes, 16 * kMiB);  // tail held the whole line
  EXPECT_LT(r.peak_memory_bytes, 128 * kMiB);
}

TEST_F(CgroupLimitsTest, CpuLimitedBusyLoopGetsAboutItsShare) {
  SKIP_WITHOUT_CGROUPS();
  // Two seconds of a busy loop allowed 0.2 of a core.
  ExecSpec s = spec("busy", "timeout 2 sh -c 'while :; do :; done'; true");
  s.resources.cpu = 0.2;
  s.timeout = 30s;
  ExecResult r = run(std::move(s));
  ASSERT_EQ(r.exit_code, 0) << r.error << r.stderr_tail;
  const double wall_ms = static_cast<double>(r.finished_at_ms - r.started_at_ms);
  const double share = static_cast<double>(r.cpu_time_ms) / wall_ms;
  std::printf("[ cpu      ] %llu ms of CPU in %.0f ms: %.3f of a core (limit 0.2)\n",
              static_cast<unsigned long long>(r.cpu_time_ms), wall_ms, share);
  EXPECT_GE(wall_ms, 1900);
  EXPECT_LE(share, 0.3);
  EXPECT_GE(share, 0.1);  // it ran at all (a loaded machine may give it a little less)
}

TEST_F(CgroupLimitsTest, PlainJobRecordsCpuTimeAndPeakMemoryAndItsCgroupGoes) {
  SKIP_WITHOUT_CGROUPS();
  ExecResult r = run("plain",
                     "head -c 8M /dev/zero | tail -n 1 >/dev/null; i=0; "
                     "while [ $i -lt 100000 ]; do i=$((i+1)); done; echo $i");
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.stdout_tail, "100000\n");
  EXPECT_GE(r.peak_memory_bytes, 8 * kMiB);
  EXPECT_GT(r.cpu_time_ms, 0u);
  EXPECT_TRUE(eventually([&] { return attempt_cgroups_gone(executor().limits_note()); }));
}

TEST_F(CgroupLimitsTest, WhatTheJobLeftRunningEndsWithIt) {
  SKIP_WITHOUT_CGROUPS();
  // Without namespaces the background child would outlive the job; its cgroup ends it.
  ExecutorOptions o = options();
  o.job_namespaces = false;
  executor(o);
  ExecResult r = run("leaves", "sleep 60 & echo $!");
  ASSERT_EQ(r.exit_code, 0) << r.error;
  const pid_t left = std::stoi(r.stdout_tail);
  EXPECT_TRUE(eventually([&] {
    // Our child's child was reparented to init (or a subreaper): gone or a zombie.
    std::string stat = read_file("/proc/" + std::to_string(left) + "/stat");
    return stat.empty() || stat.find(") Z ") != std::string::npos;
  })) << "pid "
      << left << " still runs";
  EXPECT_TRUE(eventually([&] { return attempt_cgroups_gone(executor().limits_note()); }));
}

TEST_F(CgroupLimitsTest, WithoutCgroupsUsageComesFromRusage) {
  ExecutorOptions o = options();
  o.job_cgroups = false;
  executor(o);
  EXPECT_EQ(executor().cgroup_version(), 0);
  EXPECT_EQ(executor().limits_note(), "per-job cgroups are turned off");
  ExecSpec s = spec("rusage",
                    "head -c 8M /dev/zero | tail -n 1 >/dev/null; i=0; "
                    "while [ $i -lt 100000 ]; do i=$((i+1)); done");
  s.resources.memory_bytes = 4 * kMiB;  // advisory only: the job is not stopped
  ExecResult r = run(std::move(s));
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_GE(r.peak_memory_bytes, 8 * kMiB);  // the largest process: tail
  EXPECT_GT(r.cpu_time_ms, 0u);
}

TEST_F(CgroupLimitsTest, UnusableCgroupFsMeansAdvisoryLimitsWithTheReason) {
  ExecutorOptions o = options();
  o.cgroup_sources.proc_cgroup = (root_.dir() / "no-such-file").string();
  executor(o);
  EXPECT_EQ(executor().cgroup_version(), 0);
  EXPECT_NE(executor().limits_note().find("cannot read " + o.cgroup_sources.proc_cgroup),
            std::string::npos)
      << executor().limits_note();
  EXPECT_EQ(run("still-runs", "echo ok").stdout_tail, "ok\n");
}

TEST_F(CgroupLimitsTest, ACgroupThatCannotBeSetUpFailsOnlyJobsWithLimits) {
  // A fake v1 tree: its directories can be made, but no control file is there.
  const auto fake = root_.dir() / "fake";
  for (const char* h : {"memory", "cpu", "cpuacct"}) std::filesystem::create_directories(fake / h);
  std::ofstream(root_.dir() / "cgroup") << "4:memory:/\n2:cpuacct:/\n1:cpu:/\n";
  std::ofstream(root_.dir() / "mountinfo")
      << "32 31 0:29 / " << (fake / "cpu").string() << " rw - cgroup cgroup rw,cpu\n"
      << "33 31 0:30 / " << (fake / "cpuacct").string() << " rw - cgroup cgroup rw,cpuacct\n"
      << "35 31 0:32 / " << (fake / "memory").string() << " rw - cgroup cgroup rw,memory\n";
  ExecutorOptions o = options();
  o.cgroup_sources = {(root_.dir() / "cgroup").string(), (root_.dir() / "mountinfo").string()};
  executor(o);
  ASSERT_EQ(executor().cgroup_version(), 1) << executor().limits_note();
  ExecSpec limited = spec("limited", "echo ran");
  limited.resources.memory_bytes = 64 * kMiB;
  ExecResult r = run(std::move(limited));
  EXPECT_EQ(r.reason, EndReason::kSpawnError);
  EXPECT_NE(r.error.find("cannot set up the job's cgroup: cannot open "), std::string::npos)
      << r.error;
  // A job without limits runs all the same, measured by rusage.
  ExecResult plain = run("plain", "echo ran");
  EXPECT_EQ(plain.exit_code, 0) << plain.error;
  EXPECT_EQ(plain.stdout_tail, "ran\n");
  EXPECT_GT(plain.peak_memory_bytes, 0u);
}

}  // namespace
}  // namespace nomad::worker::testing
