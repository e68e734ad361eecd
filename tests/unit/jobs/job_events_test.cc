// jobs/job_events.h: the state changes JobStore::apply records while a sink is set, one per
// change, for the log lines of each job's life.

#include "jobs/job_events.h"

#include <gtest/gtest.h>

#include "support/job_commands.h"

namespace nomad::jobs::testing {
namespace {

std::string kinds(const std::vector<JobEvent>& events) {
  std::string out;
  for (const auto& e : events) out += std::string(out.empty() ? "" : ",") + job_event_name(e.kind);
  return out;
}

TEST(JobEvents, RecordsNothingWithoutASink) {
  Replica r;
  std::vector<JobEvent> events;
  r.apply(submit_cmd("a"));
  r.store().record_events(&events);
  r.store().record_events(nullptr);
  r.apply(assign_cmd("a", 1, 2, 10));
  EXPECT_TRUE(events.empty());
}

TEST(JobEvents, ALifeThatCompletesIsSubmittedPlacedStartedCompleted) {
  Replica r;
  std::vector<JobEvent> events;
  r.store().record_events(&events);
  r.apply(submit_cmd("a"));
  r.apply(assign_cmd("a", 1, 2, 10));
  r.apply(started_cmd("a", 1, 2, 11));
  r.apply(started_cmd("a", 1, 2, 12));  // repeated: changes nothing, records nothing
  r.apply(finished_cmd("a", 1, 2, 20, 0));
  EXPECT_EQ(kinds(events), "submitted,placed,started,completed");
  for (const auto& e : events) EXPECT_EQ(e.job_id, "a");
  EXPECT_EQ(events[1].attempt, 1u);
  EXPECT_EQ(events[1].node, 2u);
  EXPECT_EQ(events[3].exit_code, 0);
}

TEST(JobEvents, AStartThatTravelsWithTheFinishIsRecordedBeforeIt) {
  Replica r;
  std::vector<JobEvent> events;
  r.store().record_events(&events);
  r.apply(submit_cmd("a"));
  r.apply(assign_cmd("a", 1, 2, 10));
  r.apply(finished_cmd("a", 1, 2, 20, 3));
  EXPECT_EQ(kinds(events), "submitted,placed,started,failed");
  EXPECT_EQ(events[3].exit_code, 3);
  EXPECT_EQ(events[3].reason, "exit_code");
  EXPECT_FALSE(events[3].retry);
}

TEST(JobEvents, AFailureWithRetriesLeftIsRetriedThenFailed) {
  Replica r;
  std::vector<JobEvent> events;
  r.store().record_events(&events);
  r.apply(submit_cmd("a", Opt().retries(1)));
  r.apply(assign_cmd("a", 1, 2, 10));
  r.apply(finished_cmd("a", 1, 2, 20, std::nullopt, "timeout", 15));
  r.apply(assign_cmd("a", 2, 3, 30));
  r.apply(finished_cmd("a", 2, 3, 40, 1));
  EXPECT_EQ(kinds(events), "submitted,placed,started,retried,placed,started,failed");
  EXPECT_EQ(events[3].reason, "timeout");
  EXPECT_EQ(events[3].signal, 15);
  EXPECT_TRUE(events[3].retry);
  EXPECT_EQ(events[4].attempt, 2u);
  EXPECT_EQ(events[4].node, 3u);
}

TEST(JobEvents, ALostAttemptSaysWhetherTheJobRunsAgain) {
  Replica r;
  std::vector<JobEvent> events;
  r.apply(submit_cmd("a", Opt().lost_retries(1)));
  r.apply(assign_cmd("a", 1, 2, 10));
  r.store().record_events(&events);
  r.apply(finished_cmd("a", 1, 2, 20, std::nullopt, "lost"));
  r.apply(assign_cmd("a", 2, 3, 30));
  r.apply(finished_cmd("a", 2, 3, 40, std::nullopt, "lost"));
  EXPECT_EQ(kinds(events), "lost,placed,lost");
  EXPECT_TRUE(events[0].retry);
  EXPECT_FALSE(events[2].retry);
  EXPECT_EQ(events[2].reason, "lost");
}

TEST(JobEvents, CancelIsOneEventAndTheProcessEndAfterItNone) {
  Replica r;
  std::vector<JobEvent> events;
  r.apply(submit_cmd("a"));
  r.apply(assign_cmd("a", 1, 2, 10));
  r.apply(started_cmd("a", 1, 2, 11));
  r.store().record_events(&events);
  r.apply(cancel_cmd("a", 15));
  r.apply(finished_cmd("a", 1, 2, 16, std::nullopt, "", 15));
  r.apply(submit_cmd("b"));
  r.apply(cancel_cmd("b", 17));
  EXPECT_EQ(kinds(events), "cancelled,submitted,cancelled");
  EXPECT_EQ(events[0].attempt, 1u);
  EXPECT_EQ(events[0].node, 2u);
  EXPECT_EQ(events[2].attempt, 0u);  // never placed
}

}  // namespace
}  // namespace nomad::jobs::testing
