#pragma once

// How the executor (src/worker) isolates a job (`--executor`), and the names the flag and the docs
// use.

#include <string>

namespace nomad::common {

enum class Isolation {
  kRaw,      // a process group on the host
  kSandbox,  // under bubblewrap: read-only root, private /tmp, no network, own pid namespace
};

// "raw" or "sandbox".
const char* isolation_name(Isolation isolation);
// The inverse of isolation_name: false (and *isolation untouched) for any other text.
bool isolation_from_name(const std::string& name, Isolation* isolation);

}  // namespace nomad::common
