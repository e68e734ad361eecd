#pragma once

// `nomad-lite server --check-config`: everything a start would check before opening a port,
// without opening one, for operators to run before a (re)start.

#include <ostream>

#include "server/server.h"

namespace nomad::server {

// Reads the TLS files and the token file as a start would, checks that the job user cannot
// read them, then prints what the node would run with on `out` ("configuration OK: ...") and
// returns 0; or prints the problem on `err` as one line and returns 2, as run_server would.
int check_server_config(const ServerConfig& config, std::ostream& out, std::ostream& err);

}  // namespace nomad::server
