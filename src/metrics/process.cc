#include "metrics/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

namespace nomad::metrics {
namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Seconds since the epoch at which the system booted (btime of /proc/stat); 0 if unknown.
double boot_time() {
  std::istringstream in(read_file("/proc/stat"));
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
  }
  return 0;
}

size_t open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  size_t n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n > 0 ? n - 1 : 0;  // the directory's own descriptor, open while it is read
}

}  // namespace

std::optional<ProcessStat> parse_proc_stat(std::string_view text, long ticks_per_second) {
  // The command name, in parentheses, may hold spaces and parentheses itself.
  size_t close = text.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field 3 of proc(5), the state
  size_t pos = close + 1;
  while (pos < text.size()) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    if (end > pos) fields.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  auto number = [&](size_t field, uint64_t* out) {
    size_t i = field - 3;
    if (i >= fields.size()) return false;
    std::string_view f = fields[i];
    while (!f.empty() && (f.back() == '\n')) f.remove_suffix(1);
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), *out);
    return ec == std::errc() && p == f.data() + f.size();
  };
  uint64_t utime = 0, stime = 0, threads = 0, start = 0, rss = 0;
  if (!number(14, &utime) || !number(15, &stime) || !number(20, &threads) || !number(22, &start) ||
      !number(24, &rss)) {
    return std::nullopt;
  }
  double ticks = static_cast<double>(ticks_per_second);
  return ProcessStat{static_cast<double>(utime + stime) / ticks, threads,
                     static_cast<double>(start) / ticks, rss};
}

CollectorHandle add_process_collector(Registry& registry) {
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  const double booted = boot_time();
  return registry.add_collector([=](std::vector<CollectedFamily>& out) {
    auto add = [&out](const char* name, const char* help, Type type, double value) {
      out.push_back({name, help, type, {{{}, value}}});
    };
    if (auto stat = parse_proc_stat(read_file("/proc/self/stat"), ticks)) {
      add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
          Type::kCounter, stat->cpu_seconds);
      add("process_resident_memory_bytes", "Resident memory size in bytes.", Type::kGauge,
          static_cast<double>(stat->rss_pages) * static_cast<double>(page));
      add("process_threads", "Number of OS threads in the process.", Type::kGauge,
          static_cast<double>(stat->threads));
      if (booted > 0) {
        add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            Type::kGauge, booted + stat->start_seconds);
      }
    }
    add("process_open_fds", "Number of open file descriptors.", Type::kGauge,
        static_cast<double>(open_fds()));
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      add("process_max_fds", "Maximum number of open file descriptors.", Type::kGauge,
          limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(limit.rlim_cur));
    }
  });
}

}  // namespace nomad::metrics
