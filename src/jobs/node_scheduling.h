#pragma once

// A node's drain and eligibility as one word, for the CLI, JSON and the dashboard. The state
// itself is nomad_lite::NodeScheduling, kept by the job store (jobs/node_scheduling.cc).

#include "proto/nomad_lite.pb.h"

namespace nomad::jobs {

// "eligible", "ineligible", "draining" or "drained" (ineligible since its drain completed).
const char* scheduling_state(const nomad_lite::NodeScheduling& node);

}  // namespace nomad::jobs
