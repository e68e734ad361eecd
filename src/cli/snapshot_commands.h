#pragma once

// `operator snapshot save FILE` and `operator snapshot inspect FILE` (storage/backup_file.h):
// save asks the leader for its state (a follower sends the client there) and writes the file
// whole or not at all; inspect reads a file with no server and says what it holds and whether
// it is intact.

#include <ostream>
#include <string>

#include "cli/args.h"
#include "cli/client.h"

namespace nomad::cli {

// Exit code 0, or 1 with one line on `err`: the call failed, the file received was damaged,
// or it could not be written.
int run_snapshot_save(const std::string& path, OutputFormat format, Client& client,
                      std::ostream& out, std::ostream& err);

// Exit code 0 for an intact file; 1 with one line on `err` when the file cannot be read or is
// not a snapshot, truncated or damaged (what can be read of it is printed first).
int run_snapshot_inspect(const std::string& path, OutputFormat format, std::ostream& out,
                         std::ostream& err);

}  // namespace nomad::cli
