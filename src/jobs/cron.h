#pragma once

// Cron expressions for periodic jobs (job submit --cron): when is the next run?
//
// Accepted, as Vixie cron and cronie read them:
// - 5 fields "minute hour day-of-month month day-of-week", or 6 with seconds first;
// - in each: `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n`, `a/n`, lists `a,b-c`;
//   month names JAN-DEC and day names SUN-SAT (any case); day-of-week 0-7, 0 and 7 Sunday;
// - shortcuts @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
// When both day fields are restricted (neither starts with `*`), a day matches if either
// does (the classic OR rule); otherwise both must.
//
// Times are matched in a time zone (IANA name, e.g. "Europe/Berlin"; UTC by default):
// - a local time skipped by a DST change (02:30 on the spring-forward night) runs at the
//   moment the clocks jump, once, as cronie runs jobs of the skipped hour;
// - a local time that happens twice (the fall-back hour) runs once, at its first occurrence.

#include <array>
#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace nomad::jobs {

class CronSchedule {
 public:
  // nullopt when `expression` is not valid or can never match (e.g. "0 0 30 2 *");
  // *error then names the field and what to write instead.
  static std::optional<CronSchedule> parse(std::string_view expression, std::string* error);

  // The first due time strictly after `after`, in `zone` (nullptr: UTC). nullopt only if
  // none falls within the next 28 years (cannot happen for a parsed schedule).
  std::optional<std::chrono::sys_seconds> next_after(std::chrono::sys_seconds after,
                                                     const date::time_zone* zone) const;

  bool has_seconds() const { return has_seconds_; }

 private:
  struct Civil;  // a local calendar time, field by field
  bool day_matches(int year, unsigned month, unsigned day) const;
  std::optional<Civil> next_local(Civil from) const;

  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1-31
  std::bitset<13> months_;   // 1-12
  std::bitset<7> weekdays_;  // 0 Sunday - 6 Saturday
  bool days_star_ = false;   // the day-of-month field starts with '*'
  bool weekdays_star_ = false;
  bool has_seconds_ = false;
};

// The IANA time zone named `name` ("" or "UTC": UTC, returned as nullptr with no error).
// false with *error naming the zone when there is no such zone here.
bool find_time_zone(std::string_view name, const date::time_zone** zone, std::string* error);

}  // namespace nomad::jobs
