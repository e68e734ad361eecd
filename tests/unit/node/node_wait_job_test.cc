// Node::wait_job: answered once the job is final, or at its deadline.

#include <gtest/gtest.h>

#include "in_process_cluster.h"

namespace nomad::node::testing {
namespace {

struct WaitAnswer {
  nomad_lite::Job job;
  bool done = false;
};

std::shared_future<WaitAnswer> wait_job(Node& node, const std::string& id,
                                        std::chrono::milliseconds limit) {
  auto promise = std::make_shared<std::promise<WaitAnswer>>();
  auto answer = promise->get_future().share();
  node.wait_job(id, std::chrono::steady_clock::now() + limit,
                [promise](nomad_lite::Job job, bool done) {
                  promise->set_value({std::move(job), done});
                });
  return answer;
}

class NodeWaitJob : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_all();
    ASSERT_EQ(cluster_.wait_for_leader(), 1u);
  }
  void commit(std::string command) {
    auto answer = propose(cluster_.node(1), std::move(command));
    ASSERT_TRUE(answered(answer));
    ASSERT_EQ(answer.get().code, ProposeOutcome::Code::kApplied);
  }

  InProcessCluster cluster_{1};
};

TEST_F(NodeWaitJob, AnswersWhenTheJobBecomesFinal) {
  commit(submit_command("job-w"));  // no worker: it stays pending
  auto answer = wait_job(cluster_.node(1), "job-w", std::chrono::seconds(60));
  // Pending is not final: no answer yet (the wait is registered by the loop's next turn,
  // so a wrong answer would come within a few ticks).
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  commit(cancel_command("job-w"));
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(answer.get().done);
  EXPECT_EQ(answer.get().job.id(), "job-w");
  EXPECT_EQ(answer.get().job.status(), nomad_lite::JOB_STATUS_CANCELLED);
}

TEST_F(NodeWaitJob, AnswersAtOnceForAJobAlreadyFinal) {
  commit(submit_command("job-f"));
  commit(cancel_command("job-f"));
  auto answer = wait_job(cluster_.node(1), "job-f", std::chrono::seconds(60));
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(answer.get().done);
  EXPECT_EQ(answer.get().job.status(), nomad_lite::JOB_STATUS_CANCELLED);
}

TEST_F(NodeWaitJob, AnswersNotDoneAtItsDeadline) {
  commit(submit_command("job-p"));
  constexpr auto kLimit = std::chrono::milliseconds(200);
  const auto asked = std::chrono::steady_clock::now();
  auto answer = wait_job(cluster_.node(1), "job-p", kLimit);
  ASSERT_EQ(answer.wait_for(kPatience), std::future_status::ready) << "no answer at the deadline";
  const auto waited = std::chrono::steady_clock::now() - asked;
  EXPECT_GE(waited, kLimit) << "answered before the deadline";
  EXPECT_FALSE(answer.get().done);
  EXPECT_EQ(answer.get().job.id(), "job-p");
  EXPECT_EQ(answer.get().job.status(), nomad_lite::JOB_STATUS_PENDING);
}

TEST_F(NodeWaitJob, AWaitOpenAtShutdownIsAnsweredNotDone) {
  commit(submit_command("job-s"));
  auto answer = wait_job(cluster_.node(1), "job-s", std::chrono::seconds(60));
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  cluster_.stop(1);  // whether the loop took the wait yet or not, it is answered
  ASSERT_EQ(answer.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  EXPECT_FALSE(answer.get().done);
}

}  // namespace
}  // namespace nomad::node::testing
