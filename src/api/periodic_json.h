#pragma once

// Periodic jobs as JSON (README "Periodic jobs"), for `-o json` of the CLI and the REST API.

#include <nlohmann/json.hpp>

#include "proto/nomad_lite.pb.h"

namespace nomad::api {

// {"id", "cron" (null for an interval), "every" (a duration such as "1s"; null for cron),
//  "tz" (null: UTC), "overlap", "catch_up", "keep_runs", "state" (active, paused,
//  cancelled), "created_at", "next_run" (null: none), "last_tick", "counts": {"launched",
//  "completed", "failed", "cancelled", "skipped", "missed", "run_now"}, "job": the child
//  template {"command", "timeout", "retries", "lost_retries", "priority", "env", ...},
//  "runs": [{"tick" (null for run-now), "job_id", "status", "at"}] oldest first,
//  "not_run": [{"tick", "result" (skipped, missed), "at"}] oldest first}.
nlohmann::json periodic_to_json(const nomad_lite::PeriodicJobView& view);

// "active", "paused" or "cancelled".
const char* periodic_state(const nomad_lite::PeriodicJob& periodic);

}  // namespace nomad::api
