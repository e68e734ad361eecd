#include "worker/cgroup_places.h"

#include <errno.h>

#include <algorithm>

#include "common/errno_text.h"
#include "worker/cgroup_files.h"

namespace nomad::worker {

namespace fs = std::filesystem;
using namespace cgroup_files;  // NOLINT: the file helpers

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool octal = s[i] == '\\' && i + 3 < s.size() &&
                 std::all_of(s.begin() + i + 1, s.begin() + i + 4,
                             [](char c) { return c >= '0' && c <= '7'; });
    if (octal) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

std::map<std::string, std::string> parse_proc_cgroup(std::string_view text) {
  std::map<std::string, std::string> out;
  for (const std::string& line : split(text, '\n')) {
    size_t first = line.find(':');
    if (first == std::string::npos) continue;
    size_t second = line.find(':', first + 1);
    if (second == std::string::npos) continue;
    std::string path = line.substr(second + 1);
    std::string controllers = line.substr(first + 1, second - first - 1);
    if (path.empty() || path[0] != '/') continue;
    if (controllers.empty()) {
      if (line.substr(0, first) == "0") out[""] = path;
      continue;
    }
    for (const std::string& c : split(controllers, ',')) {
      if (!c.empty()) out[c] = path;
    }
  }
  return out;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (const std::string& line : split(mountinfo, '\n')) {
    std::vector<std::string> fields;
    for (const std::string& f : split(line, ' ')) {
      if (!f.empty()) fields.push_back(f);
    }
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || dash + 3 > fields.end() ||
        dash - fields.begin() < 6) {
      continue;
    }
    const std::string& type = *(dash + 1);
    if (type != "cgroup" && type != "cgroup2") continue;
    CgroupMount m;
    m.root = unescape_mount(fields[3]);
    m.mount_point = unescape_mount(fields[4]);
    m.unified = type == "cgroup2";
    if (!m.unified) {
      for (const std::string& option : split(*(dash + 3), ',')) {
        if (!option.empty() && option != "rw" && option != "ro") m.controllers.push_back(option);
      }
    }
    mounts.push_back(std::move(m));
  }
  return mounts;
}

fs::path cgroup_dir(const CgroupMount& mount, const std::string& path) {
  if (path.empty() || path[0] != '/' || path.find("/..") != std::string::npos) return {};
  std::string root = mount.root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  std::string rest;
  if (root == "/") {
    rest = path;
  } else if (path == root) {
    rest = "";
  } else if (path.starts_with(root + "/")) {
    rest = path.substr(root.size());
  } else {
    return {};
  }
  fs::path dir = mount.mount_point;
  if (!rest.empty() && rest != "/") dir += rest;
  return dir.lexically_normal();
}

CgroupPlaces find_cgroup_places(std::string_view proc_cgroup, std::string_view mountinfo) {
  CgroupPlaces places;
  std::map<std::string, std::string> own = parse_proc_cgroup(proc_cgroup);
  std::vector<CgroupMount> mounts = parse_cgroup_mounts(mountinfo);
  if (mounts.empty()) {
    places.why_not = "no cgroup filesystem is mounted";
    return places;
  }
  std::string v2_note;
  for (const CgroupMount& m : mounts) {
    if (!m.unified || !own.contains("")) continue;
    fs::path dir = cgroup_dir(m, own.at(""));
    std::string text;
    if (dir.empty() || !read_text(dir / "cgroup.controllers", &text)) continue;
    std::vector<std::string> offered;
    for (const std::string& word : split(text, ' ')) {
      std::string w = word;
      while (!w.empty() && (w.back() == '\n' || w.back() == ' ')) w.pop_back();
      if (!w.empty()) offered.push_back(w);
    }
    if (has(offered, "memory") && has(offered, "cpu")) {
      places.version = 2;
      // The leaf this process moved itself into (enable_v2_controllers) is not its own
      // cgroup: the trees go next to it, not below.
      places.unified = dir.filename() == kCgroupServerLeaf ? dir.parent_path() : dir;
      return places;
    }
    v2_note = "cgroup v2 at " + dir.string() + " does not offer the memory and cpu controllers";
  }
  auto v1_dir = [&](const std::string& controller) -> fs::path {
    if (!own.contains(controller)) return {};
    for (const CgroupMount& m : mounts) {
      if (m.unified || !has(m.controllers, controller)) continue;
      fs::path dir = cgroup_dir(m, own.at(controller));
      if (!dir.empty() && path_exists(dir)) return dir;
    }
    return {};
  };
  places.memory = v1_dir("memory");
  places.cpu = v1_dir("cpu");
  places.cpuacct = v1_dir("cpuacct");
  if (!places.memory.empty() && !places.cpu.empty() && !places.cpuacct.empty()) {
    places.version = 1;
    return places;
  }
  std::vector<std::string> missing;
  if (places.memory.empty()) missing.push_back("memory");
  if (places.cpu.empty()) missing.push_back("cpu");
  if (places.cpuacct.empty()) missing.push_back("cpuacct");
  std::string list;
  for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
  places.memory = places.cpu = places.cpuacct = fs::path();
  places.why_not = (v2_note.empty() ? std::string("") : v2_note + ", and ") +
                   "no cgroup v1 hierarchy of this process for " + list;
  return places;
}

CgroupPlaces find_cgroup_places(const CgroupSources& sources) {
  std::string proc_cgroup, mountinfo;
  if (!read_text(sources.proc_cgroup, &proc_cgroup)) {
    CgroupPlaces none;
    none.why_not = "cannot read " + sources.proc_cgroup + ": " + common::errno_text(errno);
    return none;
  }
  if (!read_text(sources.mountinfo, &mountinfo)) {
    CgroupPlaces none;
    none.why_not = "cannot read " + sources.mountinfo + ": " + common::errno_text(errno);
    return none;
  }
  return find_cgroup_places(proc_cgroup, mountinfo);
}

}  // namespace nomad::worker
