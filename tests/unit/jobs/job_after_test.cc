// Jobs that wait for jobs (--after) in the job store: held out of the placement queue until
// every job named has completed, failed with dependency_failed (without running) when one
// fails or is cancelled, down a chain; only existing jobs can be named; snapshots keep it.

#include <gtest/gtest.h>

#include "jobs/job_store.h"

namespace nomad::jobs {
namespace {

struct Store {
  JobStore store;
  raft::Index index = 0;

  ApplyResult apply(const nomad_lite::Command& c) {
    return store.apply(raft::Entry{1, ++index, raft::EntryType::kNormal, c.SerializeAsString()});
  }
  ApplyResult submit(const std::string& id, std::vector<std::string> after = {}) {
    nomad_lite::Command c;
    auto* job = c.mutable_submit()->mutable_job();
    job->set_id(id);
    job->set_command("echo " + id);
    job->set_created_at_ms(1000);
    for (auto& a : after) job->add_after(a);
    return apply(c);
  }
  void finish(const std::string& id, int exit_code) {
    nomad_lite::Command c;
    auto* u = c.mutable_updates();
    u->set_at_ms(2000);
    auto* a = u->add_assign();
    a->set_job_id(id);
    a->set_attempt(1);
    a->set_node_id(1);
    auto* f = u->add_finished();
    f->set_job_id(id);
    f->set_attempt(1);
    f->set_node_id(1);
    f->set_at_ms(2000);
    f->set_exit_code(exit_code);
    apply(c);
  }
  void cancel(const std::string& id) {
    nomad_lite::Command c;
    c.mutable_cancel()->set_job_id(id);
    c.mutable_cancel()->set_at_ms(3000);
    apply(c);
  }
  bool queued(const std::string& id) const {
    for (const auto& [key, queued_id] : store.pending_queue()) {
      if (queued_id == id) return true;
    }
    return false;
  }
  nomad_lite::JobStatus status(const std::string& id) const { return store.find(id)->status(); }
};

TEST(JobAfter, WaitsOutOfTheQueueUntilEveryJobNamedCompleted) {
  Store s;
  ASSERT_TRUE(s.submit("a").status);
  ASSERT_TRUE(s.submit("b").status);
  ASSERT_TRUE(s.submit("c", {"a", "b"}).status);
  EXPECT_FALSE(s.queued("c"));
  EXPECT_EQ(s.store.pending_reason(*s.store.find("c"), 0), "waiting for job a");
  s.finish("a", 0);
  EXPECT_FALSE(s.queued("c"));
  EXPECT_EQ(s.store.pending_reason(*s.store.find("c"), 0), "waiting for job b");
  s.finish("b", 0);
  EXPECT_TRUE(s.queued("c"));
  EXPECT_EQ(s.status("c"), nomad_lite::JOB_STATUS_PENDING);
}

TEST(JobAfter, AnAssignmentOfAWaitingJobIsRefused) {
  // The leader places a submission in the same round as it (Coordinator::place_submitted).
  Store s;
  s.submit("a");
  s.submit("b", {"a"});
  nomad_lite::Command c;
  auto* a = c.mutable_updates()->add_assign();
  a->set_job_id("b");
  a->set_attempt(1);
  a->set_node_id(1);
  s.apply(c);
  EXPECT_EQ(s.status("b"), nomad_lite::JOB_STATUS_PENDING);
  EXPECT_EQ(s.store.find("b")->attempts_size(), 0);
  s.finish("a", 0);
  EXPECT_TRUE(s.queued("b"));
}

TEST(JobAfter, AFailedOrCancelledJobFailsItsDependentsDownAChain) {
  Store s;
  s.submit("a");
  s.submit("b", {"a"});
  s.submit("c", {"b"});
  s.submit("d");
  s.submit("e", {"d"});
  s.finish("a", 1);  // no retries: failed for good
  for (const char* id : {"b", "c"}) {
    const nomad_lite::Job* job = s.store.find(id);
    EXPECT_EQ(job->status(), nomad_lite::JOB_STATUS_FAILED) << id;
    EXPECT_EQ(job->reason(), "dependency_failed") << id;
    EXPECT_EQ(job->attempts_size(), 0) << id;  // never ran
  }
  EXPECT_NE(s.store.find("b")->error().find("job a"), std::string::npos);
  s.cancel("d");
  EXPECT_EQ(s.store.find("e")->reason(), "dependency_failed");
  EXPECT_NE(s.store.find("e")->error().find("cancelled"), std::string::npos);
  EXPECT_EQ(s.store.totals().finished, 5u);
}

TEST(JobAfter, AJobNamingAFinishedJobStartsAtOnceOrFailsAtOnce) {
  Store s;
  s.submit("ok");
  s.finish("ok", 0);
  s.submit("bad");
  s.finish("bad", 2);
  s.submit("x", {"ok"});
  EXPECT_TRUE(s.queued("x"));
  ApplyResult y = s.submit("y", {"ok", "bad"});
  ASSERT_TRUE(y.status);
  EXPECT_EQ(y.job.status(), nomad_lite::JOB_STATUS_FAILED);
  EXPECT_EQ(y.job.reason(), "dependency_failed");
}

TEST(JobAfter, OnlyExistingJobsCanBeNamedSoNoCycleCanForm) {
  Store s;
  ApplyResult r = s.submit("a", {"b"});  // b does not exist (yet)
  EXPECT_FALSE(r.status);
  EXPECT_NE(r.status.message().find("no job b"), std::string::npos);
  EXPECT_EQ(s.store.find("a"), nullptr);
  EXPECT_TRUE(s.submit("b").status);
  EXPECT_FALSE(s.submit("self", {"self"}).status);  // itself does not exist before it
  EXPECT_TRUE(s.submit("a", {"b"}).status);         // the refused id is free
}

TEST(JobAfter, ASnapshotKeepsWhoWaitsForWhom) {
  Store s;
  s.submit("a");
  s.submit("b", {"a"});
  JobStore restored;
  ASSERT_TRUE(restored.restore(s.store.snapshot()));
  EXPECT_EQ(restored.pending_reason(*restored.find("b"), 0), "waiting for job a");
  bool queued = false;
  for (const auto& [key, id] : restored.pending_queue()) queued |= id == "b";
  EXPECT_FALSE(queued);
  nomad_lite::Command c;
  c.mutable_cancel()->set_job_id("a");
  c.mutable_cancel()->set_at_ms(5);
  restored.apply(raft::Entry{1, 10, raft::EntryType::kNormal, c.SerializeAsString()});
  EXPECT_EQ(restored.find("b")->reason(), "dependency_failed");
}

}  // namespace
}  // namespace nomad::jobs
