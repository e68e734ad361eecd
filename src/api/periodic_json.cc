#include "api/periodic_json.h"

#include "api/json.h"
#include "common/duration.h"
#include "jobs/periodic.h"

namespace nomad::api {

using nlohmann::json;

namespace {

json time_or_null(int64_t unix_ms) {
  return unix_ms > 0 ? json(format_timestamp(unix_ms)) : json();
}

}  // namespace

const char* periodic_state(const nomad_lite::PeriodicJob& periodic) {
  if (periodic.cancelled()) return "cancelled";
  return periodic.paused() ? "paused" : "active";
}

json periodic_to_json(const nomad_lite::PeriodicJobView& view) {
  const nomad_lite::PeriodicJob& p = view.periodic();
  json child = job_to_json(p.child());
  for (const char* unset : {"id", "status", "reason", "pending_reason", "error", "exit_code",
                            "signal", "node_id", "attempt", "created_at", "started_at",
                            "finished_at", "not_before", "attempts", "periodic_id", "tick"}) {
    child.erase(unset);
  }
  json runs = json::array();
  for (const auto& run : p.runs()) {
    runs.push_back({{"tick", time_or_null(run.tick_ms())},
                    {"job_id", run.job_id()},
                    {"status", job_status_name(run.status())},
                    {"at", time_or_null(run.at_ms())}});
  }
  json not_run = json::array();
  for (const auto& run : p.not_run()) {
    not_run.push_back({{"tick", time_or_null(run.tick_ms())},
                       {"result", jobs::run_kind_name(run.kind())},
                       {"at", time_or_null(run.at_ms())}});
  }
  return json{
      {"id", p.id()},
      {"cron", p.cron().empty() ? json() : json(p.cron())},
      {"every",
       p.every_ms() == 0
           ? json()
           : json(format_duration(std::chrono::milliseconds(static_cast<int64_t>(p.every_ms()))))},
      {"tz", p.tz().empty() ? json() : json(p.tz())},
      {"overlap", jobs::overlap_name(p.overlap())},
      {"catch_up", jobs::catch_up_name(p.catch_up())},
      {"keep_runs", p.keep_runs()},
      {"state", periodic_state(p)},
      {"created_at", time_or_null(p.created_at_ms())},
      {"next_run", time_or_null(view.next_run_ms())},
      {"last_tick", time_or_null(p.last_tick_ms() == p.created_at_ms() ? 0 : p.last_tick_ms())},
      {"counts",
       {{"launched", p.launched()},
        {"completed", p.completed()},
        {"failed", p.failed()},
        {"cancelled", p.cancelled_runs()},
        {"skipped", p.skipped()},
        {"missed", p.missed()},
        {"run_now", p.run_now()}}},
      {"job", std::move(child)},
      {"runs", std::move(runs)},
      {"not_run", std::move(not_run)},
  };
}

}  // namespace nomad::api
