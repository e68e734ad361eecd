#include "worker/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <sstream>
#include <system_error>
#include <thread>

#include "common/errno_text.h"
#include "worker/cgroup_files.h"

namespace nomad::worker {

namespace fs = std::filesystem;
using namespace cgroup_files;  // NOLINT: the file helpers

namespace {

constexpr uint64_t kCpuPeriodUs = 100000;  // the kernel's default CFS period
constexpr const char* kTreePrefix = "nomad-lite.";

// Kills what is in the tree `dir` and removes it: its attempts' cgroups, then itself. False
// while some are busy.
bool remove_tree(const fs::path& dir) {
  std::error_code ec;
  for (const auto& child : fs::directory_iterator(dir, ec)) {
    if (!child.is_directory(ec)) continue;
    kill_listed(child.path());
    ::rmdir(child.path().c_str());
  }
  return ::rmdir(dir.c_str()) == 0 || errno == ENOENT;
}

// The trees of process `pid` below `parent`: nomad-lite.<pid>.<n>.
std::vector<fs::path> trees_of(const fs::path& parent, long pid) {
  std::vector<fs::path> trees;
  const std::string prefix = kTreePrefix + std::to_string(pid) + ".";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    if (entry.path().filename().string().starts_with(prefix) && entry.is_directory(ec)) {
      trees.push_back(entry.path());
    }
  }
  return trees;
}

// What a server that is gone left behind: its attempts' cgroups (processes killed), then its
// directory. Best effort: a cgroup still busy stays for the next start.
void remove_stale_trees(const fs::path& parent) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(kTreePrefix) || !entry.is_directory(ec)) continue;
    long pid = 0;
    try {
      pid = std::stol(name.substr(std::string(kTreePrefix).size()));
    } catch (const std::exception&) {
      continue;
    }
    if (pid <= 0 || pid == getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) {
      continue;
    }
    remove_tree(entry.path());
  }
}

// v2: the server's cgroup passes memory and cpu on to its children. The kernel refuses that
// (EBUSY) while processes sit in a non-root cgroup itself, so the server then moves itself
// into a leaf of its own cgroup first.
std::string enable_v2_controllers(const fs::path& own) {
  const std::string wanted = "+memory +cpu";
  std::string error = write_control(own / "cgroup.subtree_control", wanted);
  if (error.empty() || errno != EBUSY) return error;
  fs::path leaf = own / kCgroupServerLeaf;
  if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) {
    return "cannot create " + leaf.string() + ": " + common::errno_text(errno);
  }
  if (std::string moved = write_control(leaf / "cgroup.procs", std::to_string(getpid()));
      !moved.empty()) {
    return moved;
  }
  return write_control(own / "cgroup.subtree_control", wanted);
}

}  // namespace

bool remove_cgroup_trees_of(pid_t pid, std::chrono::milliseconds wait,
                            const CgroupSources& sources) {
  CgroupPlaces places = find_cgroup_places(sources);
  std::vector<fs::path> parents;
  for (const fs::path& p : {places.unified, places.memory, places.cpu, places.cpuacct}) {
    if (!p.empty() && std::find(parents.begin(), parents.end(), p) == parents.end()) {
      parents.push_back(p);
    }
  }
  const auto give_up = std::chrono::steady_clock::now() + wait;
  while (true) {
    bool left = false;
    for (const fs::path& parent : parents) {
      for (const fs::path& tree : trees_of(parent, pid)) left = !remove_tree(tree) || left;
    }
    if (!left) return true;
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // processes still exiting
  }
}

uint64_t cpu_quota_us(double cpu, uint64_t period_us) {
  double quota = std::round(cpu * static_cast<double>(period_us));
  return std::max<uint64_t>(1000, static_cast<uint64_t>(quota));
}

// --- CgroupTree ---------------------------------------------------------------------------

std::unique_ptr<CgroupTree> CgroupTree::create(const CgroupPlaces& places, std::string* why,
                                               const std::string& given_name) {
  if (places.version == 0) {
    *why = places.why_not;
    return nullptr;
  }
  static std::atomic<uint64_t> trees{0};
  const std::string name =
      !given_name.empty() ? given_name
                          : kTreePrefix + std::to_string(getpid()) + "." + std::to_string(++trees);
  std::unique_ptr<CgroupTree> tree(new CgroupTree);
  tree->version_ = places.version;
  std::vector<fs::path> parents;
  if (places.version == 2) {
    if (std::string error = enable_v2_controllers(places.unified); !error.empty()) {
      *why = error;
      return nullptr;
    }
    parents = {places.unified};
  } else {
    parents = {places.memory, places.cpuacct};
    if (places.cpu != places.cpuacct) parents.push_back(places.cpu);
  }
  for (const fs::path& parent : parents) {
    remove_stale_trees(parent);
    fs::path dir = parent / name;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      *why = "cannot create " + dir.string() + ": " + common::errno_text(errno);
      return nullptr;  // the destructor removes those made
    }
    tree->dirs_.push_back(dir);
  }
  if (places.version == 2) {
    tree->memory_ = tree->cpu_ = tree->cpuacct_ = tree->dirs_[0];
    if (std::string error =
            write_control(tree->dirs_[0] / "cgroup.subtree_control", "+memory +cpu");
        !error.empty()) {
      *why = error;
      return nullptr;
    }
  } else {
    tree->memory_ = tree->dirs_[0];
    tree->cpuacct_ = tree->dirs_[1];
    tree->cpu_ = places.cpu == places.cpuacct ? tree->dirs_[1] : tree->dirs_[2];
  }
  return tree;
}

CgroupTree::~CgroupTree() {
  for (const fs::path& dir : dirs_) remove_tree(dir);
}

std::string CgroupTree::describe() const {
  if (version_ == 2) return "cgroup v2 at " + memory_.string();
  std::string text = "cgroup v1: memory at " + memory_.string();
  if (cpu_ == cpuacct_) return text + ", cpu and cpuacct at " + cpu_.string();
  return text + ", cpu at " + cpu_.string() + ", cpuacct at " + cpuacct_.string();
}

std::unique_ptr<AttemptCgroup> CgroupTree::make_attempt(const std::string& name,
                                                        const CgroupLimits& limits,
                                                        std::string* error) const {
  std::unique_ptr<AttemptCgroup> cg(new AttemptCgroup);
  cg->version_ = version_;
  // NaN, infinite or absurd figures (the wire does not forbid them) set no CPU limit.
  const bool cpu_limit = limits.cpu > 0 && limits.cpu < 1e6;
  // v1: the cpu hierarchy only when there is a quota to set (one write less per spawn).
  std::vector<fs::path> parents = {memory_};
  if (cpuacct_ != memory_) parents.push_back(cpuacct_);
  if (cpu_limit && cpu_ != cpuacct_ && cpu_ != memory_) parents.push_back(cpu_);
  auto fail = [&](std::string why) -> std::unique_ptr<AttemptCgroup> {
    *error = "cannot set up the job's cgroup: " + why;
    std::string ignored;
    cg->close_join_fds();
    cg->remove(&ignored);
    return nullptr;
  };
  for (const fs::path& parent : parents) {
    fs::path dir = parent / name;
    // An existing one is taken over: names are unique per tree, so it is ours.
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail("cannot create " + dir.string() + ": " + common::errno_text(errno));
    }
    cg->dirs_.push_back(dir);
  }
  cg->memory_ = cg->dirs_[0];
  cg->cpuacct_ = cpuacct_ == memory_ ? cg->dirs_[0] : cg->dirs_[1];
  const fs::path cpu_dir = cpu_ == memory_    ? cg->dirs_[0]
                           : cpu_ == cpuacct_ ? cg->cpuacct_
                                              : cg->dirs_.back();
  if (version_ == 2) {
    if (limits.memory_bytes > 0) {
      if (std::string e =
              write_control(cg->memory_ / "memory.max", std::to_string(limits.memory_bytes));
          !e.empty()) {
        return fail(e);
      }
      // Swap would let the job go past its limit; not every kernel has swap accounting.
      if (path_exists(cg->memory_ / "memory.swap.max"))
        write_control(cg->memory_ / "memory.swap.max", "0");
    }
    if (cpu_limit) {
      if (std::string e = write_control(
              cpu_dir / "cpu.max", std::to_string(cpu_quota_us(limits.cpu, kCpuPeriodUs)) + " " +
                                       std::to_string(kCpuPeriodUs));
          !e.empty()) {
        return fail(e);
      }
    }
    cg->has_peak_file_ = path_exists(cg->memory_ / "memory.peak");
  } else {
    if (limits.memory_bytes > 0) {
      const std::string bytes = std::to_string(limits.memory_bytes);
      if (std::string e = write_control(cg->memory_ / "memory.limit_in_bytes", bytes); !e.empty()) {
        return fail(e);
      }
      // Memory + swap at the same figure: swap does not extend the limit.
      if (path_exists(cg->memory_ / "memory.memsw.limit_in_bytes")) {
        write_control(cg->memory_ / "memory.memsw.limit_in_bytes", bytes);
      }
    }
    if (cpu_limit) {
      if (std::string e =
              write_control(cpu_dir / "cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
          !e.empty()) {
        return fail(e);
      }
      if (std::string e = write_control(cpu_dir / "cpu.cfs_quota_us",
                                        std::to_string(cpu_quota_us(limits.cpu, kCpuPeriodUs)));
          !e.empty()) {
        return fail(e);
      }
    }
  }
  for (const fs::path& dir : cg->dirs_) {
    fs::path procs = dir / "cgroup.procs";
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail("cannot open " + procs.string() + ": " + common::errno_text(errno));
    cg->join_fds_.push_back(fd);
  }
  return cg;
}

// --- AttemptCgroup ------------------------------------------------------------------------

AttemptCgroup::~AttemptCgroup() { close_join_fds(); }

void AttemptCgroup::close_join_fds() {
  for (int fd : join_fds_) ::close(fd);
  join_fds_.clear();
}

CgroupUsage AttemptCgroup::usage() const {
  CgroupUsage u;
  std::string text;
  uint64_t value = 0;
  if (version_ == 2) {
    if (read_number(memory_ / "memory.peak", &value)) {
      u.peak_memory_bytes = value;
    } else {
      u.peak_memory_bytes = sampled_peak_;
      if (read_number(memory_ / "memory.current", &value)) {
        u.peak_memory_bytes = std::max(u.peak_memory_bytes, value);
      }
    }
    if (read_text(cpuacct_ / "cpu.stat", &text) && read_keyed_value(text, "usage_usec", &value)) {
      u.cpu_time_ns = value * 1000;
    }
    if (read_text(memory_ / "memory.events", &text)) {
      u.oom_kill_known = read_keyed_value(text, "oom_kill", &u.oom_kills);
      u.memory_limit_hit = read_keyed_value(text, "max", &value) && value > 0;
    }
  } else {
    if (read_number(memory_ / "memory.max_usage_in_bytes", &value)) u.peak_memory_bytes = value;
    if (read_number(cpuacct_ / "cpuacct.usage", &value)) u.cpu_time_ns = value;
    if (read_text(memory_ / "memory.oom_control", &text)) {
      u.oom_kill_known = read_keyed_value(text, "oom_kill", &u.oom_kills);
    }
    u.memory_limit_hit = read_number(memory_ / "memory.failcnt", &value) && value > 0;
  }
  return u;
}

void AttemptCgroup::sample_memory() {
  if (version_ != 2 || has_peak_file_) return;
  uint64_t value = 0;
  if (read_number(memory_ / "memory.current", &value))
    sampled_peak_ = std::max(sampled_peak_, value);
}

bool AttemptCgroup::kill_all() const {
  if (dirs_.empty()) return true;
  if (version_ == 2 && path_exists(memory_ / "cgroup.kill")) {
    if (listed_processes(memory_).empty()) return true;
    write_control(memory_ / "cgroup.kill", "1");
    return false;
  }
  return kill_listed(memory_);
}

bool AttemptCgroup::remove(std::string* error) {
  bool all = true;
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    if (::rmdir(it->c_str()) == 0 || errno == ENOENT) {
      it = dirs_.erase(it);
      continue;
    }
    if (errno != EBUSY) *error = "cannot remove " + it->string() + ": " + common::errno_text(errno);
    all = false;
    ++it;
  }
  return all;
}

}  // namespace nomad::worker
