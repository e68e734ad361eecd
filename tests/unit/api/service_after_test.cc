// api::Service with --after on a fake cluster port (a real JobStore): only existing jobs can
// be named (so no cycle can form), a dependent waits and names what it waits for, and it
// fails with dependency_failed when what it waits for is cancelled.

#include <gtest/gtest.h>

#include <future>

#include "api/service.h"
#include "fake_cluster_port.h"

namespace nomad::api {
namespace {

using testing::FakeClusterPort;

template <class T, class Call>
Outcome<T> after_answer_of(Call&& call) {
  auto promise = std::make_shared<std::promise<Outcome<T>>>();
  auto future = promise->get_future();
  call([promise](Outcome<T> out) { promise->set_value(std::move(out)); });
  EXPECT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  return future.get();
}

class ServiceAfterTest : public ::testing::Test {
 protected:
  ServiceAfterTest() : service_(port_) { port_.state.node_id = 1; }

  Outcome<nomad_lite::SubmitJobResponse> submit(std::vector<std::string> after) {
    nomad_lite::SubmitJobRequest r;
    r.set_command("true");
    for (auto& id : after) r.add_after(id);
    return after_answer_of<nomad_lite::SubmitJobResponse>(
        [&](auto done) { service_.submit_job(r, std::move(done)); });
  }
  nomad_lite::Job job(const std::string& id) {
    nomad_lite::GetJobStatusRequest r;
    r.set_job_id(id);
    return service_.get_job(r).value;
  }

  FakeClusterPort port_;
  Service service_;
};

TEST_F(ServiceAfterTest, OnlyExistingJobsCanBeNamed) {
  auto out = submit({"no-such-job"});
  EXPECT_EQ(out.error.code, Code::kInvalidArgument);
  EXPECT_NE(out.error.message.find("no job no-such-job"), std::string::npos);
  EXPECT_EQ(submit({""}).error.code, Code::kInvalidArgument);
  EXPECT_TRUE(port_.proposed().empty());
}

TEST_F(ServiceAfterTest, AFollowerLeavesAnIdItDoesNotKnowYetToTheLeader) {
  // The job may be one the leader acknowledged a moment ago: refusing it here would tell the
  // client it does not exist. The proposal's NotLeader sends the client to the leader.
  port_.leader = false;
  ProposeResult not_leader;
  not_leader.code = ProposeResult::Code::kNotLeader;
  not_leader.leader_id = 2;
  port_.refuse_with(not_leader);
  auto out = submit({"just-acknowledged-by-the-leader"});
  EXPECT_EQ(out.error.code, Code::kNotLeader) << out.error.message;
  EXPECT_EQ(port_.proposed().size(), 1u);
}

TEST_F(ServiceAfterTest, ADependentWaitsThenFailsWhenItsJobIsCancelled) {
  auto first = submit({});
  ASSERT_TRUE(first.ok());
  const std::string a = first.value.job().id();
  auto second = submit({a});
  ASSERT_TRUE(second.ok()) << second.error.message;
  const std::string b = second.value.job().id();
  EXPECT_EQ(job(b).pending_reason(), "waiting for job " + a);
  nomad_lite::CancelJobRequest cancel;
  cancel.set_job_id(a);
  ASSERT_TRUE(after_answer_of<nomad_lite::Job>([&](auto done) {
                service_.cancel_job(cancel, std::move(done));
              }).ok());
  EXPECT_EQ(job(b).status(), nomad_lite::JOB_STATUS_FAILED);
  EXPECT_EQ(job(b).reason(), "dependency_failed");
}

}  // namespace
}  // namespace nomad::api
