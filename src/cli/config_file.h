#pragma once

// `nomad-lite server --config FILE`: a TOML file whose keys are the server's long flag names
// without the dashes (node-id = 1, peers = "2:10.0.0.2:50051", insecure = true). A value fills
// an option the command line left out, so a flag on the command line overrides the file.

#include <CLI/CLI.hpp>
#include <string>

#include "common/status.h"

namespace nomad::cli {

// Reads `path` and gives each of its keys to the matching option of `server` (the parsed
// `server` subcommand) unless the command line already gave that option. Refuses, naming the
// file, the line and the key, and saying what to do: an unreadable file, a TOML syntax error,
// a key given twice, a key that is no server flag (with the closest flag name when there is
// one), a value of the wrong type or range, a table or an array.
Status apply_config_file(const std::string& path, CLI::App* server);

}  // namespace nomad::cli
