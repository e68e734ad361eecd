#pragma once

// `nomad-lite bench submit --target etcd`: the same load as bench submit (options.clients
// calls in flight, options.requests of them at most, for options.duration at most), made of
// etcd's KV.Put instead of SubmitJob, so that the two systems can be measured side by side
// on the same machine (scripts/bench-vs-etcd). Each Put writes a key of its own
// ("nomad-lite-bench/<random>/<n>") with a value of options.payload bytes. Calls go to the
// first address (any member: a follower forwards the proposal to its leader), and to the
// next one while that is unavailable. Prints the same JSON line as bench submit.

#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"

namespace nomad::cli {

// Runs the benchmark against etcd's gRPC API (etcdserverpb.KV/Put) at `addresses` and prints
// bench_json on `out` as one line; a summary of errors, if any, on `err`. Returns 0, or 1
// when no Put succeeded.
int run_etcd_bench(const BenchOptions& options, const std::vector<std::string>& addresses,
                   std::ostream& out, std::ostream& err);

}  // namespace nomad::cli
