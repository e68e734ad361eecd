#pragma once

// `job logs ID [--stderr] [-f] [--attempt N]`: a job's output, streamed from any node (which
// fetches it from the node that ran the attempt) and written to stdout byte for byte as it
// arrives.

#include <ostream>
#include <string>

#include "cli/args.h"
#include "cli/client.h"

namespace nomad::cli {

// Writes the output of job `id` (or of the one job whose id starts with it) to `out`,
// flushing after every chunk. Notes go to `err`, once each: when the node that ran the
// attempt is unreachable and only the replicated tail is shown, and when the output was cut
// at its size limit. Returns 0, or 1 after an error line on `err`.
int print_job_logs(Client& client, const std::string& id, const LogsOptions& options,
                   std::ostream& out, std::ostream& err);

// The note for a stream that carries the replicated tail only; `node_id` 0: not known.
std::string tail_only_note(uint64_t node_id);

}  // namespace nomad::cli
