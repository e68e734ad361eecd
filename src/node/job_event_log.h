#pragma once

// One log line per job state change (jobs/job_events.h), with its fields: job_id, attempt,
// worker (the node the attempt runs on), exit_code, signal, reason, retry. A batch of changes
// is written at once (common::InfoLineBatch): a write per line would cost a system call per
// submission.

#include <vector>

#include "jobs/job_events.h"

namespace nomad::node {

void log_job_events(const std::vector<jobs::JobEvent>& events);

}  // namespace nomad::node
