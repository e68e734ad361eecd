#include "cli/process_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <vector>

namespace nomad::cli {
namespace {

constexpr const char* kListenState = "0A";  // TCP_LISTEN in /proc/net/tcp

// The socket inodes listening on `port` in one /proc/net/tcp-style table.
void listening_inodes(const std::string& table, int port, std::set<std::string>* inodes) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode)) {
      continue;
    }
    size_t colon = local.rfind(':');
    if (state != kListenState || colon == std::string::npos) continue;
    if (std::stoi(local.substr(colon + 1), nullptr, 16) == port) inodes->insert(inode);
  }
}

bool all_digits(const char* text) {
  if (*text == '\0') return false;
  for (; *text; ++text) {
    if (*text < '0' || *text > '9') return false;
  }
  return true;
}

// Whether one of `pid`'s open descriptors is a socket named in `inodes`.
bool holds_socket(const std::string& pid, const std::set<std::string>& inodes) {
  std::string fd_dir = "/proc/" + pid + "/fd";
  DIR* dir = opendir(fd_dir.c_str());
  if (!dir) return false;
  bool found = false;
  char target[128];
  while (dirent* entry = readdir(dir)) {
    if (!all_digits(entry->d_name)) continue;
    std::string link = fd_dir + "/" + entry->d_name;
    ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    std::string name(target, static_cast<size_t>(n));
    // "socket:[12345]"
    if (name.rfind("socket:[", 0) == 0 && name.back() == ']' &&
        inodes.count(name.substr(8, name.size() - 9))) {
      found = true;
      break;
    }
  }
  closedir(dir);
  return found;
}

std::string host_of(const std::string& address) {
  if (!address.empty() && address.front() == '[') {
    size_t end = address.find(']');
    return end == std::string::npos ? "" : address.substr(1, end - 1);
  }
  return address.substr(0, address.rfind(':'));
}

}  // namespace

std::optional<ProcessSample> sample_process(int pid) {
  if (pid <= 0) return std::nullopt;
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream stat_file(base + "/stat");
  std::string stat;
  if (!std::getline(stat_file, stat)) return std::nullopt;
  // "pid (comm) state ppid ...": the command may hold spaces and parentheses; what follows
  // the last ')' is field 3 on. utime and stime are fields 14 and 15, in clock ticks.
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 1));
  std::vector<std::string> after;
  std::string field;
  while (after.size() < 13 && fields >> field) after.push_back(field);
  if (after.size() < 13) return std::nullopt;
  std::ifstream statm(base + "/statm");
  uint64_t size_pages = 0, resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return std::nullopt;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcessSample sample;
  try {
    sample.cpu_seconds =
        static_cast<double>(std::stoull(after[11]) + std::stoull(after[12])) / ticks;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  sample.rss_bytes = resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return sample;
}

int find_listening_pid(int port) {
  if (port <= 0 || port > 65535) return 0;
  std::set<std::string> inodes;
  try {
    listening_inodes("/proc/net/tcp", port, &inodes);
    listening_inodes("/proc/net/tcp6", port, &inodes);
  } catch (const std::exception&) {
    return 0;  // a line /proc did not write as expected
  }
  inodes.erase("0");
  if (inodes.empty()) return 0;
  DIR* proc = opendir("/proc");
  if (!proc) return 0;
  int pid = 0;
  while (dirent* entry = readdir(proc)) {
    if (all_digits(entry->d_name) && holds_socket(entry->d_name, inodes)) {
      pid = std::stoi(entry->d_name);
      break;
    }
  }
  closedir(proc);
  return pid;
}

int address_port(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 >= address.size()) return 0;
  const std::string digits = address.substr(colon + 1);
  if (!all_digits(digits.c_str()) || digits.size() > 5) return 0;
  int port = std::stoi(digits);
  return port <= 65535 ? port : 0;
}

bool is_loopback_host(const std::string& address) {
  const std::string host = host_of(address);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace nomad::cli
