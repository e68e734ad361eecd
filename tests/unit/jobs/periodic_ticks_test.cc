#include "jobs/periodic_ticks.h"

#include <date/date.h>
#include <gtest/gtest.h>

namespace nomad::jobs {
namespace {

using namespace std::chrono;

TickTime at(int64_t seconds_since_anchor) {
  return TickTime{} + seconds(1'800'000'000 + seconds_since_anchor);
}

TickSchedule every_second(CatchUp catch_up) {
  TickSchedule s;
  s.every = seconds(1);
  s.anchor = at(0);
  s.catch_up = catch_up;
  s.grace = seconds(2);
  return s;
}

std::vector<int64_t> offsets(const std::vector<TickTime>& ticks) {
  std::vector<int64_t> out;
  for (auto t : ticks) out.push_back(duration_cast<seconds>(t - at(0)).count());
  return out;
}

using Offsets = std::vector<int64_t>;

TEST(PeriodicTicks, IntervalTicksAreAnchoredAndNeverRepeat) {
  auto s = every_second(CatchUp::kAll);
  EXPECT_EQ(next_tick(s, at(-5)), at(0));
  EXPECT_EQ(next_tick(s, at(0)), at(1));
  EXPECT_EQ(next_tick(s, at(0) + milliseconds(999)), at(1));
  auto due = due_ticks(s, at(0), at(0) + milliseconds(2500));
  EXPECT_EQ(offsets(due.run), (Offsets{1, 2}));
  EXPECT_EQ(due.next, at(3));
  // Asked again with the last handled tick: nothing twice.
  due = due_ticks(s, at(2), at(0) + milliseconds(2500));
  EXPECT_TRUE(due.run.empty());
  EXPECT_TRUE(due.missed.empty());
}

TEST(PeriodicTicks, CatchUpAllRunsEveryMissedTick) {
  auto due = due_ticks(every_second(CatchUp::kAll), at(0), at(60));
  EXPECT_EQ(due.run.size(), 60u);
  EXPECT_TRUE(due.missed.empty());
}

TEST(PeriodicTicks, CatchUpLastRunsOnceForTheMissedTicks) {
  // 1-57 are overdue (more than the 2 s grace): only 57 runs for them; 58-60 are on time.
  auto due = due_ticks(every_second(CatchUp::kLast), at(0), at(60));
  EXPECT_EQ(offsets(due.run), (Offsets{57, 58, 59, 60}));
  EXPECT_EQ(due.missed.size(), 56u);
  EXPECT_EQ(offsets(due.missed).front(), 1);
  // Ticks within the grace are on time and all run (a short election delayed them).
  due = due_ticks(every_second(CatchUp::kLast), at(0), at(2));
  EXPECT_EQ(offsets(due.run), (Offsets{1, 2}));
}

TEST(PeriodicTicks, CatchUpNoneRecordsOverdueTicksAsMissed) {
  auto due = due_ticks(every_second(CatchUp::kNone), at(0), at(60));
  EXPECT_EQ(offsets(due.run), (Offsets{58, 59, 60}));  // within the 2 s grace
  EXPECT_EQ(due.missed.size(), 57u);
}

TEST(PeriodicTicks, ABoundedBatchLeavesTheRestForTheNextCall) {
  auto s = every_second(CatchUp::kLast);
  auto due = due_ticks(s, at(0), at(100), 40);
  EXPECT_TRUE(due.run.empty());  // the latest overdue tick is not in this batch
  EXPECT_EQ(due.missed.size(), 40u);
  due = due_ticks(s, at(40), at(100), 100);
  EXPECT_EQ(offsets(due.run), (Offsets{97, 98, 99, 100}));
  EXPECT_EQ(due.missed.size(), 56u);
}

TEST(PeriodicTicks, CronTicksFollowTheExpression) {
  TickSchedule s;
  std::string error;
  s.cron = CronSchedule::parse("*/10 * * * * *", &error);
  ASSERT_TRUE(s.cron) << error;
  s.catch_up = CatchUp::kAll;
  TickTime start{date::sys_days{date::year{2026} / 12 / 7}};
  auto due = due_ticks(s, start, start + seconds(35));
  ASSERT_EQ(due.run.size(), 3u);
  EXPECT_EQ(due.run[0], start + seconds(10));
  EXPECT_EQ(due.run[2], start + seconds(30));
  EXPECT_EQ(due.next, start + seconds(40));
}

TEST(PeriodicTicks, NoScheduleNoTicks) {
  TickSchedule s;
  EXPECT_FALSE(next_tick(s, at(0)));
  EXPECT_TRUE(due_ticks(s, at(0), at(100)).run.empty());
}

}  // namespace
}  // namespace nomad::jobs
