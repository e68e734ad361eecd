#pragma once

// `nomad-lite bench spawn`: how many job processes this machine can start and reap per second
// at all, with no cluster: --parallel loops each posix_spawn `/bin/sh -c COMMAND` (stdio on
// /dev/null, a minimal environment) and wait for it, until --count processes ran. It is the
// yardstick for `bench jobs`, whose every job is one such process plus its way through Raft.
// Prints one JSON line: {"spawns", "failed", "parallel", "seconds", "spawns_per_sec"};
// "failed" counts processes that could not start or exited other than 0.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/args.h"

namespace nomad::cli {

struct SpawnBenchReport {
  uint64_t spawns = 0;  // processes started and reaped
  uint64_t failed = 0;  // of those (or attempts), the ones that did not exit 0
  int parallel = 0;
  double seconds = 0;
};

nlohmann::ordered_json bench_spawn_json(const SpawnBenchReport& report);

SpawnBenchReport measure_spawns(const BenchSpawnOptions& options);

// Prints bench_spawn_json on `out`; returns 0, or 1 (with the reason on `err`) when no
// process exited 0.
int run_bench_spawn(const BenchSpawnOptions& options, std::ostream& out, std::ostream& err);

}  // namespace nomad::cli
