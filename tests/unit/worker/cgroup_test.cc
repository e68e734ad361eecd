// The cgroup logic on fake trees in a temp dir: parsing /proc/self/cgroup and mountinfo,
// choosing v2 or v1, making the executor's and an attempt's cgroups with their limits,
// reading usage, removing what a crashed server left. No real cgroup is touched here (the
// executor's tests with real cgroups are in cgroup_limits_test.cc).

#include "worker/cgroup.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <limits>
#include <sstream>

#include "support/temp_dir.h"
#include "worker/cgroup_files.h"

namespace nomad::worker {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// A pid no process has: one of a child already reaped.
pid_t dead_pid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status;
  waitpid(pid, &status, 0);
  return pid;
}

// The one nomad-lite.<our pid>.N directory `create` made under `parent`.
fs::path tree_dir(const fs::path& parent) {
  const std::string prefix = "nomad-lite." + std::to_string(getpid()) + ".";
  fs::path found;
  for (const auto& entry : fs::directory_iterator(parent)) {
    if (entry.path().filename().string().starts_with(prefix)) {
      EXPECT_TRUE(found.empty()) << "two trees: " << found << " and " << entry.path();
      found = entry.path();
    }
  }
  return found;
}

// This machine's layout: v1 controllers apart, memory in a non-root cgroup, and a cgroup2
// mount without memory or cpu (hybrid).
const char* kHybridProcCgroup =
    "9:name=systemd:/\n"
    "4:memory:/process_api/abc\n"
    "2:cpuacct:/\n"
    "1:cpu:/\n"
    "0::/\n";

std::string hybrid_mountinfo(const fs::path& root) {
  const std::string r = root.string();
  return "31 23 0:28 / " + r + " rw,relatime - tmpfs tmpfs rw,mode=755\n" + "32 31 0:29 / " + r +
         "/cpu rw,relatime - cgroup cgroup rw,cpu\n" + "33 31 0:30 / " + r +
         "/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n" + "35 31 0:32 / " + r +
         "/memory rw,relatime - cgroup cgroup rw,memory\n" + "40 31 0:37 / " + r +
         "/systemd rw,relatime - cgroup cgroup rw,name=systemd\n" + "41 31 0:38 / " + r +
         "/unified rw,relatime - cgroup2 cgroup2 rw\n";
}

TEST(CgroupParse, ProcCgroupMapsEachControllerToItsPath) {
  auto own = parse_proc_cgroup(
      "12:cpu,cpuacct:/user.slice\n4:memory:/process_api/abc\n1:name=systemd:/x\n0::/v2/path\n"
      "garbage line\n");
  EXPECT_EQ(own["cpu"], "/user.slice");
  EXPECT_EQ(own["cpuacct"], "/user.slice");
  EXPECT_EQ(own["memory"], "/process_api/abc");
  EXPECT_EQ(own["name=systemd"], "/x");
  EXPECT_EQ(own[""], "/v2/path");
  EXPECT_EQ(own.size(), 5u);
}

TEST(CgroupParse, MountinfoFindsCgroupMountsWithControllersAndDecodesEscapes) {
  auto mounts = parse_cgroup_mounts(
      "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 - cgroup cgroup "
      "rw,cpu,cpuacct\n"
      "41 31 0:38 /sub /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw,nsdelegate\n"
      "short line\n");
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_FALSE(mounts[0].unified);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts[0].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_TRUE(mounts[1].unified);
  EXPECT_EQ(mounts[1].root, "/sub");
  EXPECT_EQ(mounts[1].mount_point, "/mnt/my cgroups");
}

TEST(CgroupParse, DirectoryOfAPathUnderAMountRoot) {
  CgroupMount m{"/", "/sys/fs/cgroup/memory", false, {"memory"}};
  EXPECT_EQ(cgroup_dir(m, "/a/b"), fs::path("/sys/fs/cgroup/memory/a/b"));
  EXPECT_EQ(cgroup_dir(m, "/"), fs::path("/sys/fs/cgroup/memory"));
  m.root = "/a";
  EXPECT_EQ(cgroup_dir(m, "/a/b"), fs::path("/sys/fs/cgroup/memory/b"));
  EXPECT_EQ(cgroup_dir(m, "/a"), fs::path("/sys/fs/cgroup/memory"));
  EXPECT_TRUE(cgroup_dir(m, "/ab").empty());  // not below /a
  EXPECT_TRUE(cgroup_dir(m, "/../x").empty());
}

TEST(CgroupParse, KeyedValuesAndQuota) {
  uint64_t v = 0;
  EXPECT_TRUE(
      cgroup_files::read_keyed_value("usage_usec 1500\nuser_usec 1000\n", "usage_usec", &v));
  EXPECT_EQ(v, 1500u);
  EXPECT_TRUE(cgroup_files::read_keyed_value("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
                                             "oom_kill", &v));
  EXPECT_EQ(v, 3u);
  EXPECT_FALSE(cgroup_files::read_keyed_value("oom_kill_disable 0\n", "oom_kill", &v));
  EXPECT_EQ(cpu_quota_us(0.2, 100000), 20000u);
  EXPECT_EQ(cpu_quota_us(2.5, 100000), 250000u);
  EXPECT_EQ(cpu_quota_us(0.001, 100000), 1000u);  // the kernel's minimum
}

TEST(CgroupPlaces, HybridLayoutUsesV1BelowTheProcessesOwnCgroups) {
  nomad::testing::TempDir root("cgroup");
  write(root.dir() / "unified/cgroup.controllers", "hugetlb\n");
  fs::create_directories(root.dir() / "memory/process_api/abc");
  fs::create_directories(root.dir() / "cpu");
  fs::create_directories(root.dir() / "cpuacct");
  CgroupPlaces places = find_cgroup_places(kHybridProcCgroup, hybrid_mountinfo(root.dir()));
  ASSERT_EQ(places.version, 1) << places.why_not;
  EXPECT_EQ(places.memory, root.dir() / "memory/process_api/abc");
  EXPECT_EQ(places.cpu, root.dir() / "cpu");
  EXPECT_EQ(places.cpuacct, root.dir() / "cpuacct");
}

TEST(CgroupPlaces, UnifiedWithMemoryAndCpuIsV2) {
  nomad::testing::TempDir root("cgroup");
  write(root.dir() / "user.slice/session-1.scope/cgroup.controllers",
        "cpuset cpu io memory pids\n");
  write(root.dir() / "user.slice/session-1.scope/cgroup.subtree_control", "");
  const std::string mountinfo =
      "25 1 0:22 / " + root.path() + " rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
  CgroupPlaces places = find_cgroup_places("0::/user.slice/session-1.scope\n", mountinfo);
  ASSERT_EQ(places.version, 2) << places.why_not;
  EXPECT_EQ(places.unified, root.dir() / "user.slice/session-1.scope");
  // Once the server moved itself into its leaf, its trees still go next to that leaf.
  write(root.dir() / "user.slice/session-1.scope/nomad-lite-server/cgroup.controllers",
        "cpu memory\n");
  places = find_cgroup_places("0::/user.slice/session-1.scope/nomad-lite-server\n", mountinfo);
  ASSERT_EQ(places.version, 2) << places.why_not;
  EXPECT_EQ(places.unified, root.dir() / "user.slice/session-1.scope");
}

TEST(CgroupPlaces, NoneUsableSaysWhy) {
  EXPECT_EQ(find_cgroup_places("0::/\n", "22 1 0:5 / / rw - ext4 /dev/sda1 rw\n").why_not,
            "no cgroup filesystem is mounted");
  nomad::testing::TempDir root("cgroup");
  write(root.dir() / "unified/cgroup.controllers", "hugetlb\n");
  fs::create_directories(root.dir() / "memory/process_api/abc");
  fs::create_directories(root.dir() / "cpu");
  // No cpuacct hierarchy mounted.
  std::string mountinfo = hybrid_mountinfo(root.dir());
  mountinfo.erase(mountinfo.find("33 31"), mountinfo.find("35 31") - mountinfo.find("33 31"));
  CgroupPlaces places = find_cgroup_places(kHybridProcCgroup, mountinfo);
  EXPECT_EQ(places.version, 0);
  EXPECT_NE(places.why_not.find("does not offer the memory and cpu controllers"), std::string::npos)
      << places.why_not;
  EXPECT_NE(places.why_not.find("no cgroup v1 hierarchy of this process for cpuacct"),
            std::string::npos)
      << places.why_not;
  std::string why;
  EXPECT_EQ(CgroupTree::create(places, &why), nullptr);
  EXPECT_EQ(why, places.why_not);
}

TEST(CgroupTreeFake, V1AttemptGetsLimitsJoinDescriptorsAndUsage) {
  nomad::testing::TempDir root("cgroup");
  fs::path memory = root.dir() / "memory/process_api/abc";
  fs::create_directories(memory);
  fs::create_directories(root.dir() / "cpu");
  fs::create_directories(root.dir() / "cpuacct");
  // What a crashed server left: removed by the next one.
  fs::path stale = memory / ("nomad-lite." + std::to_string(dead_pid()) + ".1");
  fs::create_directories(stale / "attempt-7");
  CgroupPlaces places = find_cgroup_places(kHybridProcCgroup, hybrid_mountinfo(root.dir()));
  std::string why;
  auto tree = CgroupTree::create(places, &why);
  ASSERT_NE(tree, nullptr) << why;
  EXPECT_EQ(tree->version(), 1);
  EXPECT_FALSE(fs::exists(stale));
  fs::path mine = tree_dir(memory);
  ASSERT_FALSE(mine.empty());
  EXPECT_NE(tree->describe().find(mine.string()), std::string::npos) << tree->describe();
  const std::string name = mine.filename().string();
  EXPECT_TRUE(fs::is_directory(root.dir() / "cpu" / name));
  EXPECT_TRUE(fs::is_directory(root.dir() / "cpuacct" / name));

  // The kernel fills a new cgroup with its files; here they are made beforehand.
  fs::path mem = mine / "attempt-1", acct = root.dir() / "cpuacct" / name / "attempt-1",
           cpu = root.dir() / "cpu" / name / "attempt-1";
  for (const auto& f : {"cgroup.procs", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}) {
    write(mem / f, "");
  }
  write(mem / "memory.max_usage_in_bytes", "67100672\n");
  write(mem / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  write(mem / "memory.failcnt", "12\n");
  write(acct / "cgroup.procs", "");
  write(acct / "cpuacct.usage", "2500000000\n");
  for (const auto& f : {"cgroup.procs", "cpu.cfs_period_us", "cpu.cfs_quota_us"}) {
    write(cpu / f, "");
  }
  std::string error;
  auto attempt = tree->make_attempt("attempt-1", {0.2, 64 << 20}, &error);
  ASSERT_NE(attempt, nullptr) << error;
  EXPECT_EQ(read(mem / "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(read(mem / "memory.memsw.limit_in_bytes"), "67108864");
  EXPECT_EQ(read(cpu / "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(read(cpu / "cpu.cfs_quota_us"), "20000");
  EXPECT_EQ(attempt->join_fds().size(), 3u);  // memory, cpuacct, cpu
  attempt->close_join_fds();
  EXPECT_TRUE(attempt->join_fds().empty());
  CgroupUsage usage = attempt->usage();
  EXPECT_EQ(usage.peak_memory_bytes, 67100672u);
  EXPECT_EQ(usage.cpu_time_ns, 2500000000u);
  EXPECT_TRUE(usage.oom_kill_known);
  EXPECT_EQ(usage.oom_kills, 1u);
  EXPECT_TRUE(usage.memory_limit_hit);
  EXPECT_TRUE(attempt->kill_all());  // nobody listed in cgroup.procs

  // Without a cpu limit the cpu hierarchy is left out; without limits nothing is written.
  fs::path mem2 = mine / "attempt-2";
  write(mem2 / "cgroup.procs", "");
  write(mem2 / "memory.limit_in_bytes", "unlimited");
  write(root.dir() / "cpuacct" / name / "attempt-2/cgroup.procs", "");
  auto plain = tree->make_attempt("attempt-2", {}, &error);
  ASSERT_NE(plain, nullptr) << error;
  EXPECT_EQ(plain->join_fds().size(), 2u);
  EXPECT_EQ(read(mem2 / "memory.limit_in_bytes"), "unlimited");
  EXPECT_FALSE(fs::exists(root.dir() / "cpu" / name / "attempt-2"));
  for (double odd :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), -1.0}) {
    write(mem2 / "cgroup.procs", "");
    EXPECT_NE(tree->make_attempt("attempt-2", {odd, 0}, &error), nullptr) << error;
    EXPECT_FALSE(fs::exists(root.dir() / "cpu" / name / "attempt-2")) << odd;
  }

  // A cgroup that cannot be set up says which file.
  auto broken = tree->make_attempt("attempt-3", {0, 1 << 20}, &error);
  EXPECT_EQ(broken, nullptr);
  EXPECT_NE(error.find("cannot set up the job's cgroup: cannot open " +
                       (mine / "attempt-3/memory.limit_in_bytes").string()),
            std::string::npos)
      << error;
  EXPECT_FALSE(fs::exists(mine / "attempt-3"));  // what it made is removed again
}

TEST(CgroupTreeFake, V2AttemptLimitsAndUsage) {
  nomad::testing::TempDir root("cgroup");
  fs::path own = root.dir() / "own";
  write(own / "cgroup.controllers", "cpu memory\n");
  write(own / "cgroup.subtree_control", "");
  write(own / "nomad-lite.test/cgroup.subtree_control", "");  // the kernel would make it
  CgroupPlaces places =
      find_cgroup_places("0::/own\n", "25 1 0:22 / " + root.path() + " rw - cgroup2 cgroup2 rw\n");
  ASSERT_EQ(places.version, 2) << places.why_not;
  std::string why;
  auto tree = CgroupTree::create(places, &why, "nomad-lite.test");
  ASSERT_NE(tree, nullptr) << why;
  EXPECT_EQ(tree->version(), 2);
  EXPECT_EQ(tree->describe(), "cgroup v2 at " + (own / "nomad-lite.test").string());
  fs::path mine = own / "nomad-lite.test";
  // Both the server's cgroup and the tree pass memory and cpu on to their children.
  EXPECT_EQ(read(own / "cgroup.subtree_control"), "+memory +cpu");
  EXPECT_EQ(read(mine / "cgroup.subtree_control"), "+memory +cpu");
  fs::path a = mine / "attempt-1";
  for (const auto& f : {"cgroup.procs", "memory.max", "memory.swap.max", "cpu.max"}) {
    write(a / f, "");
  }
  write(a / "memory.peak", "1048576\n");
  write(a / "cpu.stat", "usage_usec 250000\nuser_usec 200000\nsystem_usec 50000\n");
  write(a / "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  std::string error;
  auto attempt = tree->make_attempt("attempt-1", {1.5, 256 << 20}, &error);
  ASSERT_NE(attempt, nullptr) << error;
  EXPECT_EQ(read(a / "memory.max"), std::to_string(256 << 20));
  EXPECT_EQ(read(a / "memory.swap.max"), "0");
  EXPECT_EQ(read(a / "cpu.max"), "150000 100000");
  EXPECT_EQ(attempt->join_fds().size(), 1u);
  CgroupUsage usage = attempt->usage();
  EXPECT_EQ(usage.peak_memory_bytes, 1048576u);
  EXPECT_EQ(usage.cpu_time_ns, 250000000u);
  EXPECT_EQ(usage.oom_kills, 1u);
  EXPECT_TRUE(usage.memory_limit_hit);

  // Without memory.peak (kernels before 5.19) the peak is the highest memory.current seen.
  fs::path b = mine / "attempt-2";
  write(b / "cgroup.procs", "");
  write(b / "memory.current", "3000\n");
  auto sampled = tree->make_attempt("attempt-2", {}, &error);
  ASSERT_NE(sampled, nullptr) << error;
  sampled->sample_memory();
  write(b / "memory.current", "1000\n");
  EXPECT_EQ(sampled->usage().peak_memory_bytes, 3000u);
}

}  // namespace
}  // namespace nomad::worker
