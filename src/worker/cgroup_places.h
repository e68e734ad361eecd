#pragma once

// Where this process's cgroups are (worker/cgroup.h): /proc/self/cgroup names its cgroup in
// each hierarchy, /proc/self/mountinfo where each hierarchy is mounted.

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace nomad::worker {

// v2 only: the leaf a server moves itself into when its own cgroup must pass controllers on.
inline constexpr const char* kCgroupServerLeaf = "nomad-lite-server";

// Where the process's cgroups are described (tests point them at a fake tree).
struct CgroupSources {
  std::string proc_cgroup = "/proc/self/cgroup";
  std::string mountinfo = "/proc/self/mountinfo";
};

// /proc/self/cgroup: "ID:CONTROLLERS:PATH" per line. Each controller of a v1 line maps to the
// path ("name=systemd" too); the v2 line ("0::PATH") maps "" to it.
std::map<std::string, std::string> parse_proc_cgroup(std::string_view text);

// A cgroup filesystem mounted here, from /proc/self/mountinfo.
struct CgroupMount {
  std::string root;                      // the cgroup path shown at the mount point ("/" usually)
  std::string mount_point;               // mount points with escapes (\040) are decoded
  bool unified = false;                  // cgroup2
  std::vector<std::string> controllers;  // v1: from the super options ("memory", "cpu", ...)
};
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);

// The directory of cgroup `path` (as /proc/self/cgroup gives it) under `mount`; empty when
// the mount does not show it (the path lies outside the mount's root).
std::filesystem::path cgroup_dir(const CgroupMount& mount, const std::string& path);

// Where this process's own cgroups are, in the hierarchies the executor needs.
struct CgroupPlaces {
  int version = 0;                // 1 or 2; 0: none usable, see why_not
  std::filesystem::path unified;  // v2
  std::filesystem::path memory;   // v1
  std::filesystem::path cpu;      // v1 (the same as cpuacct when they share a hierarchy)
  std::filesystem::path cpuacct;  // v1
  std::string why_not;            // version 0: why, for the log
};

// v2 when the server's unified cgroup offers memory and cpu (cgroup.controllers), else v1
// when memory, cpu and cpuacct hierarchies are mounted, else none (with the reason). Reads
// the two sources and cgroup.controllers; creates nothing.
CgroupPlaces find_cgroup_places(const CgroupSources& sources);
CgroupPlaces find_cgroup_places(std::string_view proc_cgroup, std::string_view mountinfo);

}  // namespace nomad::worker
