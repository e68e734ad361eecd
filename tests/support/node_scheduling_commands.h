#pragma once

// Proto builders for the drain and eligibility commands (jobs/node_scheduling.cc), next to
// job_commands.h's builders for the job commands.

#include <cstdint>

#include "proto/nomad_lite.pb.h"

namespace nomad::jobs::testing {

// Drain of `node` begun at `at_ms`, re-running what still runs at `deadline_ms` (0: never).
inline nomad_lite::Command drain_cmd(uint64_t node, int64_t deadline_ms, int64_t at_ms = 0) {
  nomad_lite::Command c;
  auto* s = c.mutable_node_scheduling();
  s->set_node_id(node);
  s->set_eligible(false);
  s->set_drain(true);
  s->set_drain_deadline_ms(deadline_ms);
  s->set_at_ms(at_ms);
  return c;
}

inline nomad_lite::Command eligibility_cmd(uint64_t node, bool eligible, int64_t at_ms = 0) {
  nomad_lite::Command c;
  auto* s = c.mutable_node_scheduling();
  s->set_node_id(node);
  s->set_eligible(eligible);
  s->set_at_ms(at_ms);
  return c;
}

inline nomad_lite::Command drained_cmd(uint64_t node, uint64_t drain_index, int64_t at_ms) {
  nomad_lite::Command c;
  c.mutable_node_drained()->set_node_id(node);
  c.mutable_node_drained()->set_drain_index(drain_index);
  c.mutable_node_drained()->set_at_ms(at_ms);
  return c;
}

}  // namespace nomad::jobs::testing
