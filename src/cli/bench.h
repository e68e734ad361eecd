#pragma once

// `nomad-lite bench submit`: keeps a fixed number of SubmitJob calls in flight against a
// cluster (gRPC's callback API, a few channels) and reports committed submissions per second
// and latency percentiles as one JSON line. Like the CLI it follows the leader: a follower's
// FAILED_PRECONDITION answer moves every later call to the leader it names.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"

namespace nomad::cli {

// A command of exactly `payload` bytes that does nothing: "true #xxxx..." ("true" padded with
// blanks below 6 bytes, "true" itself below 4).
std::string bench_command(size_t payload);

struct BenchReport {
  uint64_t ops = 0;                    // submissions acknowledged
  uint64_t errors = 0;                 // submissions that failed after redirects and retries
  double seconds = 0;                  // from the first call to the last answer
  std::vector<uint32_t> latencies_us;  // one per acknowledged submission
};

// {"ops", "errors", "seconds", "ops_per_sec", "p50_ms", "p90_ms", "p99_ms", "p999_ms"};
// percentiles by nearest rank, 0 when nothing succeeded.
nlohmann::ordered_json bench_json(BenchReport report);

// Runs the benchmark and prints bench_json on `out` as one line; a summary of errors, if
// any, on `err`. Returns 0, or 1 when no submission succeeded.
int run_bench(const BenchOptions& options, const std::vector<std::string>& addresses,
              std::ostream& out, std::ostream& err);

}  // namespace nomad::cli
