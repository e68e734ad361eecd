// Snapshots that no correct node writes (found by tests/fuzz/job_store_restore_fuzz.cc): the
// store refuses them with an error and keeps what it held, rather than corrupting its indexes.

#include <gtest/gtest.h>

#include "jobs/job_store.h"

namespace nomad::jobs {
namespace {

nomad_lite::Job job(const std::string& id, uint64_t submit_index, nomad_lite::JobStatus status) {
  nomad_lite::Job j;
  j.set_id(id);
  j.set_command("echo " + id);
  j.set_submit_index(submit_index);
  j.set_status(status);
  return j;
}

std::string snapshot_of(const std::vector<nomad_lite::Job>& jobs) {
  nomad_lite::JobStoreSnapshot snap;
  for (const auto& j : jobs) *snap.add_jobs() = j;
  return snap.SerializeAsString();
}

// A store holding job "kept", to show that a refused snapshot changes nothing.
JobStore store_with_one_job() {
  JobStore store;
  EXPECT_TRUE(store.restore(snapshot_of({job("kept", 1, nomad_lite::JOB_STATUS_PENDING)})));
  return store;
}

void expect_refused(const std::string& snapshot, const std::string& expected) {
  JobStore store = store_with_one_job();
  Status s = store.restore(snapshot);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(expected), std::string::npos) << s.message();
  EXPECT_EQ(store.size(), 1u);
  EXPECT_NE(store.find("kept"), nullptr);
}

TEST(JobStoreRestore, AJobWithAStatusNoVersionWritesIsRefused) {
  expect_refused(snapshot_of({job("a", 1, static_cast<nomad_lite::JobStatus>(99))}),
                 "job 'a' has status 99");
  expect_refused(snapshot_of({job("a", 1, nomad_lite::JOB_STATUS_UNSPECIFIED)}),
                 "job 'a' has status 0");
}

TEST(JobStoreRestore, AJobListedTwiceIsRefused) {
  expect_refused(snapshot_of({job("a", 1, nomad_lite::JOB_STATUS_COMPLETED),
                              job("a", 2, nomad_lite::JOB_STATUS_COMPLETED)}),
                 "job 'a' is listed twice");
}

TEST(JobStoreRestore, TwoJobsAtOneSubmissionIndexAreRefused) {
  expect_refused(snapshot_of({job("a", 7, nomad_lite::JOB_STATUS_PENDING),
                              job("b", 7, nomad_lite::JOB_STATUS_PENDING)}),
                 "job 'b' has the submission index 7 of another job");
}

TEST(JobStoreRestore, APendingJobWithABackoffButNoAttemptWaitsToBePlaced) {
  nomad_lite::Job waiting = job("a", 1, nomad_lite::JOB_STATUS_PENDING);
  waiting.set_not_before_ms(5000);
  JobStore store;
  ASSERT_TRUE(store.restore(snapshot_of({waiting})).is_ok());
  EXPECT_EQ(store.pending_reason(*store.find("a"), 1000),
            "waiting for a worker to report to the leader");
}

}  // namespace
}  // namespace nomad::jobs
