#pragma once

// Periodic jobs (README "Periodic jobs"): what the replicated PeriodicJob means, shared by the
// job store (apply), the leader's launcher and the API. A periodic job launches one child job
// per due tick; the child's id is the periodic id and the tick, so a tick names one child.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobs/periodic_ticks.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::jobs {

inline constexpr uint32_t kDefaultKeepRuns = 100;
inline constexpr uint32_t kMaxKeepRuns = 10'000;
inline constexpr size_t kMaxNotRunKept = 1000;  // skipped or missed ticks listed per job
inline constexpr int64_t kMinEveryMs = 1000;
// A cron expression is a line: anything longer is not one a person wrote, and it is Raft state.
inline constexpr size_t kMaxCronBytes = 1024;

// The schedule of a periodic job; nullopt with *error when its cron or zone does not parse
// (cannot happen for a job the API accepted, unless this node's zone database lacks the zone).
std::optional<TickSchedule> schedule_of(const nomad_lite::PeriodicJob& periodic,
                                        std::string* error);

// The id of the child for `tick_ms`: "<periodic id>-<tick_ms>".
std::string tick_child_id(const std::string& periodic_id, int64_t tick_ms);
// The id of the n-th run-now child (1, 2, ...): "<periodic id>-now-<n>".
std::string run_now_child_id(const std::string& periodic_id, uint64_t n);

// The first tick after the last handled one, or nullopt (paused, cancelled, never again).
std::optional<int64_t> next_run_ms(const nomad_lite::PeriodicJob& periodic);

// The leader's decisions on `periodic`'s ticks due at `now_ms` (after its last handled one):
// one command per tick to run, each carrying the missed ticks before it, and one for the
// missed ticks after the last run. Empty when nothing is due, or it is paused or cancelled.
// At most `max_ticks` ticks are looked at (the oldest); the rest come next time.
std::vector<nomad_lite::PeriodicTicks> decide_ticks(const nomad_lite::PeriodicJob& periodic,
                                                    int64_t now_ms, size_t max_ticks = 1000);

const char* overlap_name(nomad_lite::OverlapPolicy policy);   // "allow", "skip", "cancel"
const char* catch_up_name(nomad_lite::CatchUpPolicy policy);  // "last", "none", "all"
bool parse_overlap(const std::string& name, nomad_lite::OverlapPolicy* out);
bool parse_catch_up(const std::string& name, nomad_lite::CatchUpPolicy* out);
const char* run_kind_name(nomad_lite::PeriodicRunKind kind);  // "launched", "skipped", "missed"

}  // namespace nomad::jobs
