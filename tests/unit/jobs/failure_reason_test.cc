// A failure reason's name is what Attempt.reason and Job.reason carry on the wire and in JSON:
// failure_reason_name and failure_reason_from_name are each other's inverse, and the store
// records the names a worker reports.

#include "jobs/failure_reason.h"

#include <gtest/gtest.h>

#include <string>

#include "support/job_commands.h"

namespace nomad::jobs::testing {
namespace {

TEST(FailureReason, EachReasonHasItsWireNameAndParsesBack) {
  const std::pair<FailureReason, std::string> expected[] = {
      {FailureReason::kExitCode, "exit_code"},        {FailureReason::kTimeout, "timeout"},
      {FailureReason::kSpawnError, "spawn_error"},    {FailureReason::kLost, "lost"},
      {FailureReason::kDisconnected, "disconnected"}, {FailureReason::kKilled, "killed"},
      {FailureReason::kDrained, "drained"},           {FailureReason::kOom, "oom"}};
  for (const auto& [reason, name] : expected) {
    EXPECT_EQ(failure_reason_name(reason), name);
    FailureReason parsed =
        reason == FailureReason::kLost ? FailureReason::kTimeout : FailureReason::kLost;
    ASSERT_TRUE(failure_reason_from_name(name, &parsed)) << name;
    EXPECT_EQ(parsed, reason) << name;
  }
}

TEST(FailureReason, AnyOtherTextIsNoReason) {
  for (const std::string name : {"", "unknown", "Lost", "exit code", "timeout "}) {
    FailureReason reason = FailureReason::kSpawnError;
    EXPECT_FALSE(failure_reason_from_name(name, &reason)) << name;
    EXPECT_EQ(reason, FailureReason::kSpawnError) << "changed by '" << name << "'";
  }
}

TEST(FailureReason, OnlyLostAndDisconnectedAreTheNodesFault) {
  EXPECT_TRUE(is_node_fault(FailureReason::kLost));
  EXPECT_TRUE(is_node_fault(FailureReason::kDisconnected));
  for (FailureReason r :
       {FailureReason::kExitCode, FailureReason::kTimeout, FailureReason::kSpawnError,
        FailureReason::kKilled, FailureReason::kOom}) {
    EXPECT_FALSE(is_node_fault(r)) << failure_reason_name(r);
  }
  EXPECT_TRUE(is_node_fault(std::string("disconnected")));
  EXPECT_FALSE(is_node_fault(std::string("no such reason")));
}

// What a worker reports (JobFinished.reason) and what the attempt then records.
std::string recorded(const std::string& reported, std::optional<int32_t> exit_code) {
  Replica r;
  r.apply(submit_cmd("j"));
  r.apply(assign_cmd("j", 1, 1, 100));
  r.apply(finished_cmd("j", 1, 1, 200, exit_code, reported));
  return r.store().find("j")->attempts(0).reason();
}

TEST(FailureReason, TheStoreRecordsTheReportedNamesAndKilledAsLost) {
  EXPECT_EQ(recorded("", 3), "exit_code");
  EXPECT_EQ(recorded("", 0), "") << "a success has no reason";
  EXPECT_EQ(recorded("timeout", std::nullopt), "timeout");
  EXPECT_EQ(recorded("spawn_error", std::nullopt), "spawn_error");
  EXPECT_EQ(recorded("lost", std::nullopt), "lost");
  EXPECT_EQ(recorded("disconnected", std::nullopt), "disconnected");
  EXPECT_EQ(recorded("killed", std::nullopt), "lost") << "killed unasked: its node gave it up";
  EXPECT_EQ(recorded("gremlins", std::nullopt), "gremlins") << "kept as the log has it";
}

}  // namespace
}  // namespace nomad::jobs::testing
