#pragma once

// Per-attempt cgroups: each attempt runs in a cgroup of its own, which limits its memory and
// CPU (the job's resources), tells its peak memory and CPU time, and lets the executor kill
// everything the job started. Both layouts are handled:
// - v2 (unified): one hierarchy, usually at /sys/fs/cgroup, with memory and cpu in
//   cgroup.controllers;
// - v1: a hierarchy per controller (memory, cpu, cpuacct; cpu and cpuacct often share one).
// The executor's cgroups sit below the server's own cgroup in each hierarchy (as
// /proc/self/cgroup names it), in a directory of their own, nomad-lite.<pid>.<n>, with one
// child per attempt. Where none of this is usable (no cgroup fs, not writable, a controller
// missing) jobs run without: limits are then advisory and usage comes from wait4's rusage.
// Finding the hierarchies: worker/cgroup_places.h; reading control files:
// worker/cgroup_files.h.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "worker/cgroup_places.h"

namespace nomad::worker {

// What one attempt may use. 0: no limit.
struct CgroupLimits {
  double cpu = 0;  // cores: CFS quota of cpu * period per period
  uint64_t memory_bytes = 0;
};

// What one attempt used, read from its cgroup.
struct CgroupUsage {
  uint64_t peak_memory_bytes = 0;
  uint64_t cpu_time_ns = 0;
  uint64_t oom_kills = 0;         // processes the kernel killed for the memory limit
  bool memory_limit_hit = false;  // the usage reached the limit at least once (failcnt)
  bool oom_kill_known = false;    // the kernel counts oom kills (v1 since 4.13, v2 always)
};

// The CFS quota in microseconds per `period_us` for `cpu` cores (at least 1 ms, the kernel's
// minimum).
uint64_t cpu_quota_us(double cpu, uint64_t period_us);

class AttemptCgroup;

// Removes the executors' cgroups of process `pid` (gone, e.g. SIGKILLed) below this process's
// own cgroups, killing what is left in them, trying for up to `wait` while processes exit.
// For whoever started that server (a test harness); a server also removes those of dead
// processes next to its own when it starts. True when none is left.
bool remove_cgroup_trees_of(pid_t pid, std::chrono::milliseconds wait,
                            const CgroupSources& sources = {});

// The executor's directory in each hierarchy: made at start, removed at the end (with any
// attempt cgroup left in it). Also removes directories of this kind whose process is gone
// (a server that crashed), as they are found next to the new one.
class CgroupTree {
 public:
  // Null with *why set when the directories cannot be made or set up (not root, read-only,
  // v2 controllers that cannot be enabled for children, ...). `name`: the directory's, ""
  // for nomad-lite.<pid>.<n>.
  static std::unique_ptr<CgroupTree> create(const CgroupPlaces& places, std::string* why,
                                            const std::string& name = "");
  ~CgroupTree();
  CgroupTree(const CgroupTree&) = delete;
  CgroupTree& operator=(const CgroupTree&) = delete;

  int version() const { return version_; }
  // For the log: "cgroup v1 (memory /sys/fs/cgroup/memory/x/nomad-lite.12.1, ...)".
  std::string describe() const;

  // A cgroup named `name` for one attempt, with its limits set. Null with *error set when it
  // cannot be made (the attempt then fails to start: a limit the job asked for would be lost).
  std::unique_ptr<AttemptCgroup> make_attempt(const std::string& name, const CgroupLimits& limits,
                                              std::string* error) const;

 private:
  CgroupTree() = default;
  int version_ = 0;
  // v2: {unified}; v1: memory, cpuacct and, when apart, cpu. The first is where the
  // processes are listed.
  std::vector<std::filesystem::path> dirs_;
  std::filesystem::path memory_, cpu_, cpuacct_;  // within dirs_ (all the same one in v2)
};

// One attempt's cgroup: the child joins it before exec (through join_fds, open on each
// hierarchy's cgroup.procs), the executor reads its usage and, when the attempt has ended,
// kills what is left in it and removes it.
class AttemptCgroup {
 public:
  ~AttemptCgroup();  // closes the join descriptors; does not remove the cgroup
  AttemptCgroup(const AttemptCgroup&) = delete;
  AttemptCgroup& operator=(const AttemptCgroup&) = delete;

  // Open for writing "0" (the writer itself) in the spawned child; closed after the spawn.
  const std::vector<int>& join_fds() const { return join_fds_; }
  void close_join_fds();

  CgroupUsage usage() const;
  // v2 without memory.peak: notes memory.current, the peak being the highest one seen.
  void sample_memory();
  // SIGKILL to every process in it. True when none was left to kill.
  bool kill_all() const;
  // rmdir in every hierarchy; false while a process is still in it (EBUSY), or on an error
  // (in *error).
  bool remove(std::string* error);
  const std::filesystem::path& memory_dir() const { return memory_; }

 private:
  friend class CgroupTree;
  AttemptCgroup() = default;
  int version_ = 0;
  std::vector<std::filesystem::path> dirs_;  // those to remove, innermost first in no order
  std::filesystem::path memory_, cpuacct_;
  std::vector<int> join_fds_;
  uint64_t sampled_peak_ = 0;
  bool has_peak_file_ = true;
};

}  // namespace nomad::worker
