#include "jobs/periodic_ticks.h"

namespace nomad::jobs {

using namespace std::chrono;

std::optional<TickTime> next_tick(const TickSchedule& schedule, TickTime after) {
  if (schedule.cron) {
    auto due = schedule.cron->next_after(floor<seconds>(after), schedule.zone);
    if (!due) return std::nullopt;
    return TickTime{*due};
  }
  if (schedule.every <= milliseconds::zero()) return std::nullopt;
  if (after < schedule.anchor) return schedule.anchor;
  auto periods = (after - schedule.anchor) / schedule.every + 1;
  return schedule.anchor + periods * schedule.every;
}

DueTicks due_ticks(const TickSchedule& schedule, TickTime last_handled, TickTime now,
                   size_t max_ticks) {
  DueTicks out;
  std::vector<TickTime> due;
  std::optional<TickTime> tick = next_tick(schedule, last_handled);
  while (tick && *tick <= now && due.size() < max_ticks) {
    due.push_back(*tick);
    tick = next_tick(schedule, *tick);
  }
  out.next = tick && *tick <= now ? next_tick(schedule, now) : tick;
  auto overdue = [&](TickTime t) { return now - t > schedule.grace; };
  // Beyond max_ticks there may be later overdue ticks: decided by the next call.
  const bool next_overdue = tick && *tick <= now && overdue(*tick);
  for (size_t i = 0; i < due.size(); ++i) {
    const bool latest_overdue =
        overdue(due[i]) && (i + 1 < due.size() ? !overdue(due[i + 1]) : !next_overdue);
    switch (schedule.catch_up) {
      case CatchUp::kAll:
        out.run.push_back(due[i]);
        break;
      case CatchUp::kNone:
        (overdue(due[i]) ? out.missed : out.run).push_back(due[i]);
        break;
      case CatchUp::kLast:
        // The overdue ticks collapse into the latest of them; ticks on time all run.
        (overdue(due[i]) && !latest_overdue ? out.missed : out.run).push_back(due[i]);
        break;
    }
  }
  return out;
}

}  // namespace nomad::jobs
