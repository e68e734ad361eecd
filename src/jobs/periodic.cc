#include "jobs/periodic.h"

namespace nomad::jobs {

using namespace std::chrono;

std::optional<TickSchedule> schedule_of(const nomad_lite::PeriodicJob& periodic,
                                        std::string* error) {
  TickSchedule schedule;
  if (!periodic.cron().empty()) {
    schedule.cron = CronSchedule::parse(periodic.cron(), error);
    if (!schedule.cron) return std::nullopt;
    if (!find_time_zone(periodic.tz(), &schedule.zone, error)) return std::nullopt;
  } else {
    schedule.every = milliseconds(periodic.every_ms());
  }
  switch (periodic.catch_up()) {
    case nomad_lite::CATCH_UP_NONE:
      schedule.catch_up = CatchUp::kNone;
      break;
    case nomad_lite::CATCH_UP_ALL:
      schedule.catch_up = CatchUp::kAll;
      break;
    default:
      schedule.catch_up = CatchUp::kLast;
  }
  return schedule;
}

std::string tick_child_id(const std::string& periodic_id, int64_t tick_ms) {
  return periodic_id + "-" + std::to_string(tick_ms);
}

std::string run_now_child_id(const std::string& periodic_id, uint64_t n) {
  return periodic_id + "-now-" + std::to_string(n);
}

std::optional<int64_t> next_run_ms(const nomad_lite::PeriodicJob& periodic) {
  if (periodic.paused() || periodic.cancelled()) return std::nullopt;
  std::string ignored;
  auto schedule = schedule_of(periodic, &ignored);
  if (!schedule) return std::nullopt;
  auto next = next_tick(*schedule, TickTime(milliseconds(periodic.last_tick_ms())));
  if (!next) return std::nullopt;
  return next->time_since_epoch().count();
}

std::vector<nomad_lite::PeriodicTicks> decide_ticks(const nomad_lite::PeriodicJob& periodic,
                                                    int64_t now_ms, size_t max_ticks) {
  std::vector<nomad_lite::PeriodicTicks> out;
  if (periodic.paused() || periodic.cancelled()) return out;
  std::string ignored;
  auto schedule = schedule_of(periodic, &ignored);
  if (!schedule) return out;
  DueTicks due = due_ticks(*schedule, TickTime(milliseconds(periodic.last_tick_ms())),
                           TickTime(milliseconds(now_ms)), max_ticks);
  auto ms = [](TickTime t) { return t.time_since_epoch().count(); };
  size_t missed = 0;
  auto command = [&] {
    nomad_lite::PeriodicTicks t;
    t.set_periodic_id(periodic.id());
    t.set_at_ms(now_ms);
    return t;
  };
  for (TickTime run : due.run) {
    nomad_lite::PeriodicTicks t = command();
    while (missed < due.missed.size() && due.missed[missed] < run) {
      t.add_missed_ms(ms(due.missed[missed++]));
    }
    t.set_run_ms(ms(run));
    out.push_back(std::move(t));
  }
  if (missed < due.missed.size()) {
    nomad_lite::PeriodicTicks t = command();
    for (; missed < due.missed.size(); ++missed) t.add_missed_ms(ms(due.missed[missed]));
    out.push_back(std::move(t));
  }
  return out;
}

const char* overlap_name(nomad_lite::OverlapPolicy policy) {
  switch (policy) {
    case nomad_lite::OVERLAP_SKIP:
      return "skip";
    case nomad_lite::OVERLAP_CANCEL:
      return "cancel";
    default:
      return "allow";
  }
}

const char* catch_up_name(nomad_lite::CatchUpPolicy policy) {
  switch (policy) {
    case nomad_lite::CATCH_UP_NONE:
      return "none";
    case nomad_lite::CATCH_UP_ALL:
      return "all";
    default:
      return "last";
  }
}

bool parse_overlap(const std::string& name, nomad_lite::OverlapPolicy* out) {
  if (name == "allow")
    *out = nomad_lite::OVERLAP_ALLOW;
  else if (name == "skip")
    *out = nomad_lite::OVERLAP_SKIP;
  else if (name == "cancel")
    *out = nomad_lite::OVERLAP_CANCEL;
  else
    return false;
  return true;
}

bool parse_catch_up(const std::string& name, nomad_lite::CatchUpPolicy* out) {
  if (name == "last")
    *out = nomad_lite::CATCH_UP_LAST;
  else if (name == "none")
    *out = nomad_lite::CATCH_UP_NONE;
  else if (name == "all")
    *out = nomad_lite::CATCH_UP_ALL;
  else
    return false;
  return true;
}

const char* run_kind_name(nomad_lite::PeriodicRunKind kind) {
  switch (kind) {
    case nomad_lite::PERIODIC_RUN_SKIPPED:
      return "skipped";
    case nomad_lite::PERIODIC_RUN_MISSED:
      return "missed";
    default:
      return "launched";
  }
}

}  // namespace nomad::jobs
