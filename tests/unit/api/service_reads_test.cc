// api::Service's reads that wait: min_index and consistent barriers, and NOT_FOUND only after a
// ReadIndex confirmed that nothing newer is committed (a follower that has yet to apply a job
// the leader acknowledged finds it instead).

#include <gtest/gtest.h>

#include <future>

#include "api/service.h"
#include "fake_cluster_port.h"
#include "support/job_commands.h"

namespace nomad::api {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace service_reads_test {

using jobs::testing::submit_cmd;
using testing::FakeClusterPort;

// A follower behind its leader: `committed` holds what the leader acknowledged and this node
// has not applied; a linearizable barrier applies it (the ReadIndex covers it), a plain one
// does not. A barrier may be made to fail.
class LaggingPort : public FakeClusterPort {
 public:
  void read_barrier(uint64_t min_index, bool linearizable, std::chrono::steady_clock::time_point,
                    std::function<void(Status, uint64_t)> done) override {
    barriers.push_back({min_index, linearizable});
    if (fail) return done(Status::error("the leader did not confirm a read index in time"), 3);
    if (linearizable) {
      for (const auto& c : committed) apply(c);
      committed.clear();
    }
    done(Status::ok(), 7);
  }
  std::vector<nomad_lite::Command> committed;
  std::vector<std::pair<uint64_t, bool>> barriers;
  bool fail = false;
};

template <class T, class Call>
Outcome<T> answer_of(Call&& call) {
  auto promise = std::make_shared<std::promise<Outcome<T>>>();
  auto future = promise->get_future();
  call([promise](Outcome<T> out) { promise->set_value(std::move(out)); });
  EXPECT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  return future.get();
}

class ServiceReadsTest : public ::testing::Test {
 protected:
  ServiceReadsTest() : service_(port_) { port_.state.node_id = 2; }
  Outcome<nomad_lite::GetJobStatusResponse> read_job(const nomad_lite::GetJobStatusRequest& r) {
    return answer_of<nomad_lite::GetJobStatusResponse>(
        [&](auto done) { service_.read_job(r, std::move(done)); });
  }
  LaggingPort port_;
  Service service_;
};

TEST_F(ServiceReadsTest, AJobCommittedButNotYetAppliedHereIsFoundNotNotFound) {
  port_.committed.push_back(submit_cmd("job-late"));
  nomad_lite::GetJobStatusRequest request;
  request.set_job_id("job-late");
  auto out = read_job(request);
  ASSERT_TRUE(out.ok()) << out.error.message;
  EXPECT_EQ(out.value.job().id(), "job-late");
  // A plain read first (cheap), then the confirming ReadIndex.
  ASSERT_EQ(port_.barriers.size(), 1u);
  EXPECT_TRUE(port_.barriers[0].second);
}

TEST_F(ServiceReadsTest, AnUnknownJobIsNotFoundOnlyAfterAReadIndex) {
  nomad_lite::GetJobStatusRequest request;
  request.set_job_id("job-none");
  auto out = read_job(request);
  EXPECT_EQ(out.error.code, Code::kNotFound);
  ASSERT_EQ(port_.barriers.size(), 1u);
  EXPECT_TRUE(port_.barriers[0].second) << "NOT_FOUND without confirming";
}

TEST_F(ServiceReadsTest, MinIndexAndConsistentReachThePortAndTheAnswerCarriesTheIndex) {
  port_.apply(submit_cmd("job-a"));
  nomad_lite::GetJobStatusRequest request;
  request.set_job_id("job-a");
  request.set_min_index(5);
  request.set_consistent(true);
  auto out = read_job(request);
  ASSERT_TRUE(out.ok()) << out.error.message;
  EXPECT_EQ(out.value.index(), 7u);
  ASSERT_EQ(port_.barriers.size(), 1u);
  EXPECT_EQ(port_.barriers[0], (std::pair<uint64_t, bool>{5, true}));
}

TEST_F(ServiceReadsTest, ABarrierThatFailsIsUnavailableNamingTheIndex) {
  port_.fail = true;
  nomad_lite::ListJobsRequest request;
  request.set_min_index(812);
  auto out = answer_of<nomad_lite::ListJobsResponse>(
      [&](auto done) { service_.read_list(request, std::move(done)); });
  EXPECT_EQ(out.error.code, Code::kUnavailable);
  EXPECT_NE(out.error.message.find("812"), std::string::npos) << out.error.message;
}

TEST_F(ServiceReadsTest, WaitJobOfAJobNotYetAppliedHereWaitsInsteadOfNotFound) {
  port_.committed.push_back(submit_cmd("job-w"));
  nomad_lite::WaitJobRequest request;
  request.set_job_id("job-w");
  request.set_timeout_ms(1);
  auto out = answer_of<nomad_lite::WaitJobResponse>([&](auto done) {
    service_.wait_job(request, std::move(done));
    port_.expire_waits();
  });
  EXPECT_TRUE(out.ok()) << out.error.message;
}

}  // namespace service_reads_test
}  // namespace nomad::api
