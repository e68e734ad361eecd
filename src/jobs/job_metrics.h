#pragma once

// What the job store counts and times as it applies commands, for GET /metrics. Every node
// applies the same commands, so every node reports the same figures (the counters count from
// the process's start: entries replayed at a restart count again, as Prometheus expects of
// counters that reset). Times come from the timestamps in the applied state (the leader's
// clock for submission and placement, the worker's for start and finish), never from this
// node's clock, so a slow follower shows the same latencies as the leader.

#include <cstdint>

#include "proto/nomad_lite.pb.h"

namespace nomad::jobs {

// A job's first attempt was placed at `at_ms`: submission to placement.
void note_placed(const nomad_lite::Job& job, int64_t at_ms);
// A job's first attempt started at `at_ms`: submission to start.
void note_first_start(const nomad_lite::Job& job, int64_t at_ms);
// An attempt that had started ended: its run time.
void note_attempt_ended(const nomad_lite::Attempt& attempt);
// A job became final with this status (completed, failed or cancelled).
void note_finished(nomad_lite::JobStatus status);
// A failed attempt went back to pending for another; `lost` when it ended with its node.
void note_retried();
void note_lost();

}  // namespace nomad::jobs
