#pragma once

// The composition root of `nomad-lite server`: builds the node's collaborators (WAL, snapshot
// store, peer transport, worker), the node, and its gRPC and HTTP front ends.

#include "node/server_config.h"

namespace nomad::server {

using node::ServerConfig;

// Runs a server until SIGINT or SIGTERM. Returns the process exit code: 0 after a clean
// shutdown, 2 for a configuration problem (printed as one line on stderr), 1 otherwise.
int run_server(const ServerConfig& config);

}  // namespace nomad::server
