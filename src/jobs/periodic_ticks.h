#pragma once

// Which ticks of a periodic job are due, and what to do with each: the pure rule the leader
// applies whenever it looks at a periodic job (its schedule, the last tick already handled,
// the time now). A tick's time is the child job's identity, so deciding the same tick twice
// (a new leader, a restart) cannot launch it twice: a handled tick is never returned again.

#include <chrono>
#include <optional>
#include <vector>

#include "jobs/cron.h"

namespace nomad::jobs {

enum class CatchUp {
  kNone,  // ticks overdue by more than the grace are recorded as missed, not run
  kLast,  // of the overdue ticks only the latest runs (the others are recorded as missed);
          // ticks on time run as usual
  kAll,   // every tick runs, however late (up to max_ticks per call)
};

struct TickSchedule {
  std::optional<CronSchedule> cron;       // either a cron expression ...
  std::chrono::milliseconds every{0};     // ... or a fixed interval from `anchor`
  const date::time_zone* zone = nullptr;  // for cron; nullptr: UTC
  std::chrono::sys_time<std::chrono::milliseconds> anchor{};  // interval ticks: anchor + k*every
  CatchUp catch_up = CatchUp::kLast;
  // A tick this late or less is on time: a leader election or a busy loop does not make a
  // tick "missed".
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
};

using TickTime = std::chrono::sys_time<std::chrono::milliseconds>;

struct DueTicks {
  std::vector<TickTime> run;     // launch one child for each, oldest first
  std::vector<TickTime> missed;  // record as missed (catch-up rule), not run
  std::optional<TickTime> next;  // the first tick after `now`; nullopt: none (never again)
};

// The first tick strictly after `after`.
std::optional<TickTime> next_tick(const TickSchedule& schedule, TickTime after);

// The ticks t with last_handled < t <= now, sorted into run and missed by the catch-up rule,
// at most `max_ticks` of them (the oldest; call again for the rest), and the next one.
DueTicks due_ticks(const TickSchedule& schedule, TickTime last_handled, TickTime now,
                   size_t max_ticks = 1000);

}  // namespace nomad::jobs
