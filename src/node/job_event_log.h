#pragma once

// One log line per job state change (jobs/job_events.h), with its fields: job_id, attempt,
// worker (the node the attempt runs on), exit_code, signal, reason, retry.

#include "jobs/job_events.h"

namespace nomad::node {

void log_job_event(const jobs::JobEvent& event);

}  // namespace nomad::node
