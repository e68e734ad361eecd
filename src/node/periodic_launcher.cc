#include "node/periodic_launcher.h"

#include <algorithm>

#include "jobs/periodic.h"

namespace nomad::node {

std::vector<nomad_lite::Command> PeriodicLauncher::collect(const jobs::JobStore& store,
                                                           int64_t wall_ms, Clock::time_point now,
                                                           uint64_t term) {
  std::vector<nomad_lite::Command> out;
  if (term != term_) {  // a new leadership: nothing of ours is in flight any more
    term_ = term;
    in_flight_.clear();
    version_seen_ = UINT64_MAX;
  }
  if (store.periodic_version() == version_seen_ && wall_ms < next_due_ms_ && now < next_retry_) {
    return out;
  }
  version_seen_ = store.periodic_version();
  next_due_ms_ = INT64_MAX;
  next_retry_ = Clock::time_point::max();
  for (const auto& [id, periodic] : store.periodic()) {
    if (periodic.paused() || periodic.cancelled()) {
      in_flight_.erase(id);
      continue;
    }
    int64_t handled = periodic.last_tick_ms();
    auto flight = in_flight_.find(id);
    if (flight != in_flight_.end()) {
      if (handled >= flight->second.through_ms) {
        in_flight_.erase(flight);  // applied
      } else if (now < flight->second.proposed_at + kRetryAfter) {
        next_retry_ = std::min(next_retry_, flight->second.proposed_at + kRetryAfter);
        continue;
      }
    }
    std::vector<nomad_lite::PeriodicTicks> decisions = jobs::decide_ticks(periodic, wall_ms);
    for (auto& ticks : decisions) {
      handled = std::max(handled, ticks.run_ms());
      for (int64_t t : ticks.missed_ms()) handled = std::max(handled, t);
      nomad_lite::Command command;
      *command.mutable_periodic_ticks() = std::move(ticks);
      out.push_back(std::move(command));
    }
    if (!decisions.empty()) {
      in_flight_[id] = {handled, now};
      next_retry_ = std::min(next_retry_, now + kRetryAfter);
    }
    // The next tick after what is handled or proposed now.
    nomad_lite::PeriodicJob ahead = periodic;
    ahead.set_last_tick_ms(handled);
    if (auto next = jobs::next_run_ms(ahead)) next_due_ms_ = std::min(next_due_ms_, *next);
  }
  return out;
}

}  // namespace nomad::node
