#pragma once

// `nomad-lite bench jobs`: jobs run end to end. Each of --clients clients submits a job (an
// idempotency key per job) in a call that also waits for it (SubmitJob's wait_ms), waits on
// with WaitJob if it is not final by then, then submits the next, until --count jobs were submitted
// or --duration has passed (jobs in flight then get options.drain, 30 s, to end; those that do not
// count as errors). Prints one JSON line: jobs finished per second, latency from the start of the
// submission to the final status seen, and how many ended in each status. Submissions follow the
// leader as bench submit's do (bench.h); a job is waited for at the node that acknowledged it, or
// at the next address while that one is unavailable.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"

namespace nomad::cli {

struct JobsBenchReport {
  uint64_t jobs = 0;                   // jobs seen final (completed, failed or cancelled)
  uint64_t errors = 0;                 // submissions or waits that failed, jobs not final in time
  double seconds = 0;                  // from the first submission to the last answer
  std::vector<uint32_t> latencies_us;  // one per final job
  std::map<std::string, uint64_t> statuses;  // final status name -> jobs
};

// {"jobs", "errors", "seconds", "jobs_per_sec", "p50_ms", "p90_ms", "p99_ms",
//  "statuses": {"completed", "failed", "cancelled"}}; percentiles by nearest rank, 0 when
// no job finished.
nlohmann::ordered_json bench_jobs_json(JobsBenchReport report);

// Runs the benchmark and prints bench_jobs_json on `out` as one line; a summary of errors,
// if any, on `err`. Returns 0, or 1 when no job finished.
int run_bench_jobs(const BenchJobsOptions& options, const std::vector<std::string>& addresses,
                   std::ostream& out, std::ostream& err);

}  // namespace nomad::cli
