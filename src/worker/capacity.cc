#include "worker/capacity.h"

#include <sched.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/byte_size.h"
#include "jobs/node_capacity.h"

namespace nomad::worker {
namespace {

double machine_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? hardware : 1;
}

uint64_t read_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return 0;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() ? value : 0;
}

uint64_t mem_total() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::istringstream fields(line.substr(9));
    uint64_t kib = 0;
    fields >> kib;
    return kib * 1024;
  }
  return 0;
}

// A container or a systemd slice often allows less than the machine has.
uint64_t memory_cgroup_limit() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controllers == "memory") {
      return read_number("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes");
    }
    if (controllers.empty() && line.rfind("0::", 0) == 0) {
      uint64_t v2 = read_number("/sys/fs/cgroup" + path + "/memory.max");  // "max" reads as 0
      if (v2 != 0) return v2;
    }
  }
  return 0;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

nomad_lite::NodeCapacity machine_capacity() {
  nomad_lite::NodeCapacity capacity;
  capacity.set_cpu(machine_cores());
  uint64_t memory = mem_total();
  uint64_t limit = memory_cgroup_limit();
  if (limit != 0 && (memory == 0 || limit < memory)) memory = limit;
  capacity.set_memory_bytes(memory);
  capacity.set_name(host_name());
  return capacity;
}

Status parse_label(std::string_view text, std::string* key, std::string* value) {
  const std::string shown = "\"" + std::string(text.substr(0, 80)) + "\"";
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::error("--label " + shown + ": write key=value, e.g. --label gpu=true");
  }
  std::string_view k = text.substr(0, eq), v = text.substr(eq + 1);
  if (Status s = jobs::check_label(k, v); !s) {
    return Status::error("--label " + shown + ": " + s.message());
  }
  key->assign(k);
  value->assign(v);
  return Status::ok();
}

Status capacity_from_flags(const CapacityFlags& flags, nomad_lite::NodeCapacity* out) {
  nomad_lite::NodeCapacity capacity = machine_capacity();
  if (!flags.cpu.empty()) {
    double cores = 0;
    auto [end, ec] = std::from_chars(flags.cpu.data(), flags.cpu.data() + flags.cpu.size(), cores);
    if (ec != std::errc() || end != flags.cpu.data() + flags.cpu.size() || !std::isfinite(cores) ||
        cores < 0 || cores > jobs::kMaxNodeCpu) {
      return Status::error("--cpu \"" + flags.cpu +
                           "\": write the cores jobs may use here, e.g. --cpu 2 or --cpu 0.5");
    }
    capacity.set_cpu(cores);
  }
  if (!flags.memory.empty()) {
    std::string error;
    auto bytes = parse_byte_size(flags.memory, &error);
    if (!bytes) return Status::error("--memory: " + error);
    capacity.set_memory_bytes(*bytes);
  }
  for (const auto& label : flags.labels) {
    std::string key, value;
    if (Status s = parse_label(label, &key, &value); !s) return s;
    if (capacity.labels().count(key)) {
      return Status::error("--label " + key + " is given twice: give each key once");
    }
    (*capacity.mutable_labels())[key] = value;
  }
  if (!flags.name.empty()) {
    if (flags.name.size() > 255) return Status::error("--node-name: at most 255 characters");
    for (char c : flags.name) {
      if (!std::isprint(static_cast<unsigned char>(c))) {
        return Status::error("--node-name: only printable characters");
      }
    }
    capacity.set_name(flags.name);
  }
  if (Status s = jobs::check_capacity(capacity); !s) return s;  // e.g. too many labels
  *out = std::move(capacity);
  return Status::ok();
}

}  // namespace nomad::worker
