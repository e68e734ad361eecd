#pragma once

// The standard process_* metrics of Prometheus's client libraries, read from /proc/self at
// scrape time: resident memory, open and maximum file descriptors, threads, CPU seconds and
// the start time.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/registry.h"

namespace nomad::metrics {

struct ProcessStat {
  double cpu_seconds = 0;  // user + system
  uint64_t threads = 0;
  double start_seconds = 0;  // since boot
  uint64_t rss_pages = 0;
};

// Parses the text of /proc/<pid>/stat; nullopt when it is not in the kernel's format.
std::optional<ProcessStat> parse_proc_stat(std::string_view text, long ticks_per_second);

// Reports the process_* families at every scrape while the handle lives.
[[nodiscard]] CollectorHandle add_process_collector(Registry& registry);

}  // namespace nomad::metrics
