// nomad-lite: the server, the command-line client and the benchmark, in one binary.

#include <absl/synchronization/mutex.h>
#include <malloc.h>

#include "cli/cli.h"

int main(int argc, char** argv) {
  // gRPC's mutexes would otherwise record every lock order in a global graph to find
  // deadlocks, a few percent of a busy server's CPU.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // A server's heap grows with every job it stores. Growing it 8 MiB at a time instead of
  // 128 KiB saves a system call and a lock round in malloc for every few jobs; pages are
  // only counted once they are touched, so an idle node does not grow.
  mallopt(M_TOP_PAD, 8 << 20);
  return nomad::cli::run_cli(argc, argv);
}
