#pragma once

// The leader forgets agents that are gone for good (README "Worker-only agents"): an agent it
// has not heard from for --forget-agents-after, with no attempt running on it, is proposed
// as AgentForgotten, so status pages and placement stop carrying every agent a cluster ever
// had. Silence counts from this leader's own start at most: a leader cannot know what the
// agent told the one before. Soft state only; the store refuses the forgetting of an agent
// that has attempts running (jobs::JobStore::agent_forgotten), so a stale view is harmless.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "jobs/job_store.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::node {

class AgentReaper {
 public:
  using Clock = std::chrono::steady_clock;
  // How long ago the leader last heard from a worker, in ms; -1: never.
  using ContactMs = std::function<int64_t(uint64_t node)>;

  static constexpr std::chrono::seconds kCheckEvery{1};
  static constexpr std::chrono::seconds kRetryAfter{3};

  // forget_after 0: never forget.
  explicit AgentReaper(std::chrono::milliseconds forget_after) : forget_after_(forget_after) {}

  // The commands to propose now, as leader in `term`.
  std::vector<nomad_lite::Command> collect(const jobs::JobStore& store, Clock::time_point now,
                                           int64_t wall_ms, uint64_t term,
                                           const ContactMs& contact_ms);

 private:
  std::chrono::milliseconds forget_after_;
  uint64_t term_ = 0;
  Clock::time_point leading_since_{};
  Clock::time_point next_check_{};
  std::map<uint64_t, Clock::time_point> proposed_;  // agent -> when its forgetting was proposed
};

}  // namespace nomad::node
