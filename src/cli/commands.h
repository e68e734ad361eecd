#pragma once

// The client commands: job submit/status/list/cancel/wait/logs and cluster status, each one
// or a few SchedulerService calls through a leader-following Client, printed by output.h.

#include <ostream>
#include <string>

#include "cli/args.h"
#include "cli/client.h"

namespace nomad::cli {

// Runs a client command (not kServer, not a benchmark). Prints the result on `out`; an
// error as one line on `err`. Returns the exit code: 0, or 1 when the call failed; job wait
// and job submit --wait return the job's exit code (job_wait.h).
int run_client_command(const Invocation& invocation, Client& client, std::ostream& out,
                       std::ostream& err);

// 128 random bits as 32 hex digits: the idempotency key of one submission.
std::string random_idempotency_key();

}  // namespace nomad::cli
