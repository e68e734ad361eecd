// nomad-lite: the server, the command-line client and the benchmark, in one binary.

#include <absl/synchronization/mutex.h>

#include "cli/cli.h"

// jemalloc's settings (the build links it, CMakeLists.txt): a background thread hands pages
// freed for a second back to the kernel, so a node's memory comes back down after a burst
// (thousands of connections, refused 64 MiB requests) instead of staying at its peak. By
// default jemalloc keeps freed pages for 10 s, and returns them only when it is next called.
extern "C" const char* malloc_conf;
const char* malloc_conf =
    "background_thread:true,max_background_threads:1,dirty_decay_ms:1000,muzzy_decay_ms:0";

int main(int argc, char** argv) {
  // gRPC's mutexes would otherwise record every lock order in a global graph to find
  // deadlocks, a few percent of a busy server's CPU.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return nomad::cli::run_cli(argc, argv);
}
