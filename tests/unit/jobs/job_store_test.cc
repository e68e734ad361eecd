#include "jobs/job_store.h"

#include <gtest/gtest.h>

namespace nomad::jobs {
namespace {

raft::Entry submit_entry(raft::Index index, const std::string& id, const std::string& command,
                         const std::string& key = "") {
  nomad_lite::Command c;
  c.mutable_submit()->mutable_job()->set_id(id);
  c.mutable_submit()->mutable_job()->set_command(command);
  c.mutable_submit()->set_idempotency_key(key);
  return {1, index, raft::EntryType::kNormal, c.SerializeAsString()};
}

raft::Entry cancel_entry(raft::Index index, const std::string& id) {
  nomad_lite::Command c;
  c.mutable_cancel()->set_job_id(id);
  c.mutable_cancel()->set_at_ms(1234);
  return {1, index, raft::EntryType::kNormal, c.SerializeAsString()};
}

TEST(JobStore, ASubmittedJobIsPendingAndFindable) {
  JobStore store;
  ApplyResult r = store.apply(submit_entry(1, "a", "echo a"));
  ASSERT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.job.status(), nomad_lite::JOB_STATUS_PENDING);
  ASSERT_NE(store.find("a"), nullptr);
  EXPECT_EQ(store.find("a")->command(), "echo a");
  EXPECT_EQ(store.find("missing"), nullptr);
}

// Configuration entries (raft/membership.h) are the core's, never job commands: even bytes that
// would parse as a command change nothing.
TEST(JobStore, ConfigurationEntriesAreNotCommands) {
  JobStore store;
  raft::Entry conf = submit_entry(1, "a", "echo a");
  conf.type = raft::EntryType::kConfChange;
  ApplyResult r = store.apply(conf);
  EXPECT_TRUE(r.status.is_ok());
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.find("a"), nullptr);
  EXPECT_EQ(store.apply(submit_entry(2, "a", "echo a")).job.id(), "a");
}

TEST(JobStore, AnExistingIdIsRefusedAndItsNewKeyNotKept) {
  JobStore store;
  store.apply(submit_entry(1, "a", "echo a", "k1"));
  ApplyResult r = store.apply(submit_entry(2, "a", "echo b", "k2"));
  EXPECT_FALSE(r.status.is_ok());
  EXPECT_NE(r.status.message().find("already exists"), std::string::npos);
  EXPECT_FALSE(store.has_idempotency_key("k2"));
  EXPECT_EQ(store.find("a")->command(), "echo a");
  // The key is free for the submission that really carries it.
  EXPECT_EQ(store.apply(submit_entry(3, "c", "echo c", "k2")).job.id(), "c");
  EXPECT_EQ(store.size(), 2u);
}

TEST(JobStore, TheSameIdempotencyKeyReturnsTheFirstJob) {
  JobStore store;
  store.apply(submit_entry(1, "a", "echo a", "k"));
  ApplyResult r = store.apply(submit_entry(2, "b", "echo a", "k"));
  EXPECT_EQ(r.job.id(), "a");
  EXPECT_EQ(store.size(), 1u);
}

TEST(JobStore, CancellingAPendingJobEndsItAndAFinishedOneIsAnError) {
  JobStore store;
  store.apply(submit_entry(1, "a", "sleep 60"));
  ApplyResult r = store.apply(cancel_entry(2, "a"));
  ASSERT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.job.status(), nomad_lite::JOB_STATUS_CANCELLED);
  EXPECT_EQ(r.job.finished_at_ms(), 1234);
  ApplyResult again = store.apply(cancel_entry(3, "a"));
  EXPECT_FALSE(again.status.is_ok());
  EXPECT_NE(again.status.message().find("already finished"), std::string::npos);
}

TEST(JobStore, ListingIsNewestFirstAndPagesCoverEveryMatchOnce) {
  JobStore store;
  for (int i = 1; i <= 25; ++i) {
    store.apply(submit_entry(i, "job-" + std::to_string(i), i % 2 ? "odd" : "even"));
  }
  std::vector<std::string> seen;
  ListQuery q;
  q.limit = 10;
  do {
    ListPage page = store.list(q);
    EXPECT_EQ(page.total, 25u);
    for (const auto& j : page.jobs) seen.push_back(j.id());
    q.before_submit_index = page.next_before;
  } while (q.before_submit_index != 0);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "job-25");
  EXPECT_EQ(seen.back(), "job-1");

  ListQuery odd;
  odd.command_contains = "odd";
  EXPECT_EQ(store.list(odd).total, 13u);
  odd.command_contains = "OdD";  // case is ignored
  EXPECT_EQ(store.list(odd).total, 13u);
  odd.command_contains = "oddx";
  EXPECT_EQ(store.list(odd).total, 0u);
  store.apply(cancel_entry(26, "job-4"));
  ListQuery cancelled;
  cancelled.status = nomad_lite::JOB_STATUS_CANCELLED;
  ASSERT_EQ(store.list(cancelled).jobs.size(), 1u);
  EXPECT_EQ(store.list(cancelled).jobs[0].id(), "job-4");
}

TEST(JobStore, ASnapshotRestoresJobsOrderAndIdempotencyKeys) {
  JobStore store;
  store.apply(submit_entry(1, "a", "echo a", "ka"));
  store.apply(submit_entry(2, "b", "echo b"));
  JobStore copy;
  ASSERT_TRUE(copy.restore(store.snapshot()).is_ok());
  EXPECT_EQ(copy.size(), 2u);
  EXPECT_EQ(copy.list({}).jobs.front().id(), "b");
  EXPECT_EQ(copy.apply(submit_entry(3, "c", "echo a", "ka")).job.id(), "a");
}

TEST(JobStore, AnUnreadableCommandIsReportedAndChangesNothing) {
  JobStore store;
  ApplyResult r = store.apply({1, 1, raft::EntryType::kNormal, "\xff\xff garbage"});
  EXPECT_FALSE(r.status.is_ok());
  EXPECT_EQ(store.size(), 0u);
  EXPECT_FALSE(store.restore("\xff\xff").is_ok());
}

}  // namespace
}  // namespace nomad::jobs
