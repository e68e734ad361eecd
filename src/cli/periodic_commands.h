#pragma once

// The periodic-job commands (README "Periodic jobs"): job submit --cron/--every, job list
// --periodic, and job status / cancel / pause / resume / run-now of a periodic job's id.

#include <ostream>
#include <string>

#include "cli/args.h"
#include "cli/client.h"

namespace nomad::cli {

// Whether `id` names a periodic job ("p-" and 16 hex digits) rather than a job.
bool is_periodic_id(const std::string& id);

// Runs one of those commands; the exit code as run_client_command's.
int run_periodic_command(const Invocation& invocation, Client& client, std::ostream& out,
                         std::ostream& err);

}  // namespace nomad::cli
