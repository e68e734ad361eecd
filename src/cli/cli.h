#pragma once

// The `nomad-lite` binary: server, client and benchmark in one. See parse_args (args.h) for
// the command line.

namespace nomad::cli {

// Parses the command line and runs what it names. Returns the process exit code: 0 on
// success, 1 when a command failed, 2 for a usage error (one line on stderr).
int run_cli(int argc, char** argv);

}  // namespace nomad::cli
