#pragma once

// `nomad-lite version` and `nomad-lite --version`: what this binary is and what it was built
// with.

#include <string>

namespace nomad::cli {

// "nomad-lite 0.1.0 (commit 553cd61, RelWithDebInfo; gRPC 1.51.1, protobuf 3.21.12)"; the
// commit reads "unknown" for a build made outside a git checkout.
std::string version_line();

// {"version": ..., "commit": ... or "", "build_type": ..., "grpc": ..., "protobuf": ...}
std::string version_json();

}  // namespace nomad::cli
