#include "jobs/cron.h"

#include <date/date.h>
#include <date/tz.h>
#include <gtest/gtest.h>

#include <sstream>
#include <vector>

namespace nomad::jobs {
namespace {

using std::chrono::sys_seconds;

sys_seconds utc(const std::string& text) {
  std::istringstream in(text);
  sys_seconds t;
  in >> date::parse("%Y-%m-%d %H:%M:%S", t);
  EXPECT_FALSE(in.fail()) << text;
  return t;
}

std::string show(std::optional<sys_seconds> t) {
  return t ? date::format("%Y-%m-%d %H:%M:%S", *t) : "never";
}

// The next `count` due times after `from` (UTC text), in UTC text.
std::vector<std::string> runs(const std::string& expression, const std::string& from, int count = 1,
                              const char* zone_name = "") {
  std::string error;
  auto schedule = CronSchedule::parse(expression, &error);
  EXPECT_TRUE(schedule) << expression << ": " << error;
  if (!schedule) return {};
  const date::time_zone* zone = nullptr;
  EXPECT_TRUE(find_time_zone(zone_name, &zone, &error)) << error;
  std::vector<std::string> out;
  sys_seconds at = utc(from);
  for (int i = 0; i < count; ++i) {
    auto next = schedule->next_after(at, zone);
    out.push_back(show(next));
    if (!next) break;
    at = *next;
  }
  return out;
}

using V = std::vector<std::string>;

TEST(Cron, EveryMinuteIsStrictlyAfter) {
  EXPECT_EQ(runs("* * * * *", "2026-03-01 10:00:00", 3),
            (V{"2026-03-01 10:01:00", "2026-03-01 10:02:00", "2026-03-01 10:03:00"}));
  EXPECT_EQ(runs("* * * * *", "2026-03-01 10:00:30"), V{"2026-03-01 10:01:00"});
}

TEST(Cron, RangesStepsAndLists) {
  EXPECT_EQ(runs("*/15 * * * *", "2026-03-01 10:07:00", 3),
            (V{"2026-03-01 10:15:00", "2026-03-01 10:30:00", "2026-03-01 10:45:00"}));
  EXPECT_EQ(runs("5-20/5 * * * *", "2026-03-01 10:19:00", 2),
            (V{"2026-03-01 10:20:00", "2026-03-01 11:05:00"}));
  EXPECT_EQ(runs("10/20 * * * *", "2026-03-01 10:00:00", 3),
            (V{"2026-03-01 10:10:00", "2026-03-01 10:30:00", "2026-03-01 10:50:00"}));
  EXPECT_EQ(runs("0 9,12-13,17 * * *", "2026-03-01 09:00:00", 4),
            (V{"2026-03-01 12:00:00", "2026-03-01 13:00:00", "2026-03-01 17:00:00",
               "2026-03-02 09:00:00"}));
  EXPECT_EQ(runs("59 23 31 12 *", "2026-06-01 00:00:00"), V{"2026-12-31 23:59:00"});
}

TEST(Cron, MonthAndDayNamesInAnyCase) {
  // 2026-03-02 is a Monday.
  EXPECT_EQ(runs("0 8 * * mon-FRI", "2026-03-06 09:00:00", 2),
            (V{"2026-03-09 08:00:00", "2026-03-10 08:00:00"}));
  EXPECT_EQ(runs("0 0 1 jan,Jul *", "2026-03-01 00:00:00", 2),
            (V{"2026-07-01 00:00:00", "2027-01-01 00:00:00"}));
}

TEST(Cron, SundayIsZeroAndSeven) {
  EXPECT_EQ(runs("0 12 * * 0", "2026-03-02 00:00:00"), V{"2026-03-08 12:00:00"});
  EXPECT_EQ(runs("0 12 * * 7", "2026-03-02 00:00:00"), V{"2026-03-08 12:00:00"});
  EXPECT_EQ(runs("0 12 * * 5-7", "2026-03-02 00:00:00", 3),
            (V{"2026-03-06 12:00:00", "2026-03-07 12:00:00", "2026-03-08 12:00:00"}));
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 13th, or any Friday: 2026-03-06 is a Friday, 2026-03-13 both.
  EXPECT_EQ(runs("0 0 13 * 5", "2026-03-01 00:00:00", 4),
            (V{"2026-03-06 00:00:00", "2026-03-13 00:00:00", "2026-03-20 00:00:00",
               "2026-03-27 00:00:00"}));
  // Only one restricted: both must hold (Fridays that are the 13th when dom is '*'... no:
  // '*' day-of-month means every Friday).
  EXPECT_EQ(runs("0 0 * * 5", "2026-03-06 00:00:00"), V{"2026-03-13 00:00:00"});
  // A step starting with '*' counts as unrestricted: odd days AND Mondays.
  EXPECT_EQ(runs("0 0 */2 * 1", "2026-03-01 00:00:00", 2),
            (V{"2026-03-09 00:00:00", "2026-03-23 00:00:00"}));
}

TEST(Cron, LeapDaysAndShortMonths) {
  EXPECT_EQ(runs("0 0 29 2 *", "2026-01-01 00:00:00", 2),
            (V{"2028-02-29 00:00:00", "2032-02-29 00:00:00"}));
  EXPECT_EQ(runs("0 0 31 * *", "2026-04-01 00:00:00", 2),
            (V{"2026-05-31 00:00:00", "2026-07-31 00:00:00"}));
  // 2100 is not a leap year.
  EXPECT_EQ(runs("0 0 29 2 *", "2096-03-01 00:00:00"), V{"2104-02-29 00:00:00"});
}

TEST(Cron, SecondsFieldAndShortcuts) {
  EXPECT_EQ(runs("*/20 * * * * *", "2026-03-01 10:00:05", 3),
            (V{"2026-03-01 10:00:20", "2026-03-01 10:00:40", "2026-03-01 10:01:00"}));
  EXPECT_EQ(runs("@hourly", "2026-03-01 10:00:00"), V{"2026-03-01 11:00:00"});
  EXPECT_EQ(runs("@daily", "2026-03-01 10:00:00"), V{"2026-03-02 00:00:00"});
  EXPECT_EQ(runs("@midnight", "2026-03-01 10:00:00"), V{"2026-03-02 00:00:00"});
  EXPECT_EQ(runs("@weekly", "2026-03-02 10:00:00"), V{"2026-03-08 00:00:00"});
  EXPECT_EQ(runs("@monthly", "2026-03-02 10:00:00"), V{"2026-04-01 00:00:00"});
  EXPECT_EQ(runs("@yearly", "2026-03-02 10:00:00"), V{"2027-01-01 00:00:00"});
  EXPECT_EQ(runs("@annually", "2026-03-02 10:00:00"), V{"2027-01-01 00:00:00"});
}

TEST(Cron, TimeZonesShiftTheDueTime) {
  // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
  EXPECT_EQ(runs("0 9 * * *", "2026-01-10 00:00:00", 1, "Europe/Berlin"), V{"2026-01-10 08:00:00"});
  EXPECT_EQ(runs("0 9 * * *", "2026-07-10 00:00:00", 1, "Europe/Berlin"), V{"2026-07-10 07:00:00"});
}

TEST(Cron, ASkippedLocalTimeRunsOnceWhenTheClocksJump) {
  // New York springs forward on 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).
  EXPECT_EQ(runs("30 2 * * *", "2026-03-07 12:00:00", 3, "America/New_York"),
            (V{"2026-03-08 07:00:00", "2026-03-09 06:30:00", "2026-03-10 06:30:00"}));
  // Every 20 minutes: 02:00, 02:20 and 02:40 do not exist that night; one run at the jump.
  EXPECT_EQ(runs("*/20 * * * *", "2026-03-08 06:30:00", 4, "America/New_York"),
            (V{"2026-03-08 06:40:00", "2026-03-08 07:00:00", "2026-03-08 07:20:00",
               "2026-03-08 07:40:00"}));
}

TEST(Cron, ARepeatedLocalHourRunsOnce) {
  // New York falls back on 2026-11-01: 01:00-01:59 happens twice (EDT 05:00 UTC, EST 06:00).
  EXPECT_EQ(runs("30 1 * * *", "2026-10-31 12:00:00", 2, "America/New_York"),
            (V{"2026-11-01 05:30:00", "2026-11-02 06:30:00"}));
  // Hourly: 00:00, 01:00 (first), then 02:00 EST; the second 01:00 is not run.
  EXPECT_EQ(runs("0 * * * *", "2026-11-01 03:30:00", 3, "America/New_York"),
            (V{"2026-11-01 04:00:00", "2026-11-01 05:00:00", "2026-11-01 07:00:00"}));
  // Asked during the second pass of the hour, the next run is after it.
  EXPECT_EQ(runs("*/30 * * * *", "2026-11-01 06:10:00", 1, "America/New_York"),
            V{"2026-11-01 07:00:00"});
}

TEST(Cron, BadExpressionsSayWhatIsWrong) {
  struct Case {
    const char* expression;
    const char* expected;
  };
  const Case cases[] = {
      {"", "5 fields"},
      {"* * * *", "5 fields"},
      {"* * * * * * *", "5 fields"},
      {"60 * * * *", "minute: 60 is outside 0-59"},
      {"* 24 * * *", "hour: 24"},
      {"* * 0 * *", "day-of-month: 0"},
      {"* * * 13 *", "month: 13"},
      {"* * * * 8", "day-of-week: 8"},
      {"*/0 * * * *", "step"},
      {"*/x * * * *", "step"},
      {"5-2 * * * *", "goes backwards"},
      {"1-2-3 * * * *", "not a range"},
      {"a * * * *", "not a number"},
      {"* * L * *", "not supported"},
      {"* * * FOO *", "not a name"},
      {"* * * * 1#2", "not a number"},
      {"1,,2 * * * *", "not a number"},
      {"0 0 30 2 *", "never matches"},
      {"0 0 31 4,6,9,11 *", "never matches"},
      {"@every 5m", "not a shortcut"},
      {"@reboot", "not a shortcut"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(CronSchedule::parse(c.expression, &error)) << c.expression;
    EXPECT_NE(error.find(c.expected), std::string::npos) << "\"" << c.expression << "\": " << error;
  }
}

TEST(Cron, UnknownTimeZoneIsRefused) {
  const date::time_zone* zone = nullptr;
  std::string error;
  EXPECT_FALSE(find_time_zone("Mars/Olympus", &zone, &error));
  EXPECT_NE(error.find("Mars/Olympus"), std::string::npos);
  EXPECT_TRUE(find_time_zone("UTC", &zone, &error));
  EXPECT_EQ(zone, nullptr);
  EXPECT_TRUE(find_time_zone("Asia/Kolkata", &zone, &error));
  EXPECT_NE(zone, nullptr);
}

// Checking minute after minute with a predicate written by hand finds the same next runs.
TEST(Cron, AgreesWithCheckingEveryMinute) {
  struct Fields {
    unsigned month, day, weekday, hour, minute;
  };
  struct Case {
    const char* expression;
    bool (*matches)(const Fields&);
  };
  const Case cases[] = {
      {"*/7 3-5 * * *",
       [](const Fields& f) { return f.minute % 7 == 0 && f.hour >= 3 && f.hour <= 5; }},
      {"0 0 1,15 * 3",
       [](const Fields& f) {
         return f.minute == 0 && f.hour == 0 && (f.day == 1 || f.day == 15 || f.weekday == 3);
       }},
      {"15 10 * 2 *",
       [](const Fields& f) { return f.minute == 15 && f.hour == 10 && f.month == 2; }},
      {"0 */5 10-20 * *",
       [](const Fields& f) {
         return f.minute == 0 && f.hour % 5 == 0 && f.day >= 10 && f.day <= 20;
       }},
      {"45 23 * * sat",
       [](const Fields& f) { return f.minute == 45 && f.hour == 23 && f.weekday == 6; }},
  };
  for (const auto& c : cases) {
    std::string error;
    auto schedule = CronSchedule::parse(c.expression, &error);
    ASSERT_TRUE(schedule) << error;
    sys_seconds at = utc("2027-01-20 13:37:00");
    sys_seconds probe = at;
    for (int found = 0; found < 6;) {
      probe += std::chrono::minutes(1);
      auto days = std::chrono::floor<date::days>(probe);
      date::year_month_day ymd{days};
      date::hh_mm_ss<std::chrono::seconds> time{probe - days};
      Fields f{unsigned(ymd.month()), unsigned(ymd.day()), date::weekday{days}.c_encoding(),
               unsigned(time.hours().count()), unsigned(time.minutes().count())};
      if (!c.matches(f)) continue;
      EXPECT_EQ(show(schedule->next_after(at, nullptr)), show(probe)) << c.expression;
      at = probe;
      ++found;
    }
  }
}

}  // namespace
}  // namespace nomad::jobs
