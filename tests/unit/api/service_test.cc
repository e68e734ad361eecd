// api::Service on a fake cluster port: what it refuses and how, how the cluster's answers map
// to the client API's errors, idempotent submissions, submissions that wait, and waits woken
// by the job's changes rather than by polling.

#include "api/service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "fake_cluster_port.h"
#include "support/eventually.h"
#include "support/job_commands.h"

namespace nomad::api {
namespace {

using Clock = std::chrono::steady_clock;
using jobs::testing::assign_cmd;
using jobs::testing::finished_cmd;
using jobs::testing::started_cmd;
using testing::FakeClusterPort;

// Waits (up to 5 s) for an answer given through a callback.
template <class T, class Call>
Outcome<T> answer_of(Call&& call) {
  auto promise = std::make_shared<std::promise<Outcome<T>>>();
  auto future = promise->get_future();
  call([promise](Outcome<T> out) { promise->set_value(std::move(out)); });
  EXPECT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  return future.get();
}

using nomad::testing::eventually;

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : service_(port_) { port_.state.node_id = 1; }

  Outcome<nomad_lite::SubmitJobResponse> submit(const nomad_lite::SubmitJobRequest& request) {
    return answer_of<nomad_lite::SubmitJobResponse>(
        [&](auto done) { service_.submit_job(request, std::move(done)); });
  }
  Outcome<nomad_lite::SubmitJobResponse> submit(const std::string& command) {
    nomad_lite::SubmitJobRequest request;
    request.set_command(command);
    return submit(request);
  }
  // Runs attempt 1 of job `id` on `node` and, with an exit code, ends it.
  void run(const std::string& id, uint64_t node, std::optional<int32_t> exit_code) {
    port_.apply(assign_cmd(id, 1, node, 2000));
    port_.apply(started_cmd(id, 1, node, 2001));
    if (exit_code) port_.apply(finished_cmd(id, 1, node, 2002, exit_code));
  }

  FakeClusterPort port_;
  Service service_;
};

TEST_F(ServiceTest, RefusesBadSubmissionsNamingTheFieldAndProposesNothing) {
  struct Case {
    std::function<void(nomad_lite::SubmitJobRequest&)> set;
    std::string named;
  };
  std::vector<Case> cases = {
      {[](auto& r) { r.set_command(" \t\n"); }, "command is empty"},
      {[](auto& r) { r.set_command(std::string(kMaxCommandBytes + 1, 'x')); }, "command is"},
      {[](auto& r) { r.set_command(std::string("a\0b", 3)); }, "NUL"},
      {[](auto& r) { r.set_retries(kMaxRetries + 1); }, "retries is"},
      {[](auto& r) { r.set_lost_retries(kMaxRetries + 1); }, "lost_retries is"},
      {[](auto& r) { r.set_on_disconnect(static_cast<nomad_lite::OnDisconnect>(7)); },
       "on_disconnect 7"},
      {[](auto& r) { r.set_idempotency_key(std::string(257, 'k')); }, "idempotency_key is 257"},
      {[](auto& r) { (*r.mutable_env())["1BAD"] = "v"; }, "variable name '1BAD'"},
      {[](auto& r) { r.mutable_resources()->set_cpu(-0.5); }, "cpu:"},
      {[](auto& r) { r.mutable_resources()->set_memory_bytes(10); }, "memory:"},
      {[](auto& r) { r.add_constraints("gpu"); }, "constraint \"gpu\""},
      {[](auto& r) { (*r.mutable_env())["OK"] = std::string("a\0b", 3); }, "value of OK"},
      {[](auto& r) { (*r.mutable_env())["BIG"] = std::string(kMaxEnvBytes, 'v'); }, "env is"},
  };
  for (const auto& c : cases) {
    nomad_lite::SubmitJobRequest request;
    request.set_command("echo hi");
    c.set(request);
    auto out = submit(request);
    EXPECT_EQ(out.error.code, Code::kInvalidArgument) << c.named;
    EXPECT_NE(out.error.message.find(c.named), std::string::npos) << out.error.message;
  }
  EXPECT_TRUE(port_.proposed().empty());
}

TEST_F(ServiceTest, ResourcesAndConstraintsGoIntoTheJobAndARetryMustRepeatThem) {
  nomad_lite::SubmitJobRequest request;
  request.set_command("echo hi");
  request.set_idempotency_key("k-res");
  request.mutable_resources()->set_cpu(0.5);
  request.mutable_resources()->set_memory_bytes(256 << 20);
  request.add_constraints("gpu==true");
  auto out = submit(request);
  ASSERT_TRUE(out.ok()) << out.error.message;
  const nomad_lite::Job job = port_.proposed()[0].submit().job();  // proposed() is a copy
  EXPECT_EQ(job.resources().cpu(), 0.5);
  EXPECT_EQ(job.resources().memory_bytes(), 256u << 20);
  ASSERT_EQ(job.constraints_size(), 1);
  EXPECT_EQ(job.constraints(0), "gpu==true");
  // The same request again gets the same job; another memory under the key is refused.
  EXPECT_TRUE(submit(request).ok());
  request.mutable_resources()->set_memory_bytes(512 << 20);
  auto other = submit(request);
  EXPECT_EQ(other.error.code, Code::kAlreadyExists);
  EXPECT_NE(other.error.message.find("different memory"), std::string::npos);
}

TEST_F(ServiceTest, ASubmissionNamesItsJobAsThePlacementHint) {
  nomad_lite::SubmitJobRequest request;
  request.set_command("echo hi");
  request.set_idempotency_key("k1");
  auto out = submit(request);
  ASSERT_TRUE(out.ok()) << out.error.message;
  EXPECT_EQ(out.value.job().command(), "echo hi");
  EXPECT_EQ(out.value.job().lost_retries(), kDefaultLostRetries);
  EXPECT_FALSE(out.value.done());  // not asked to wait
  ASSERT_EQ(port_.placement_hints().size(), 1u);
  ASSERT_TRUE(port_.placement_hints()[0]);
  EXPECT_EQ(port_.placement_hints()[0]->job_id, out.value.job().id());
  EXPECT_EQ(port_.placement_hints()[0]->idempotency_key, "k1");
}

TEST_F(ServiceTest, MapsTheClustersRefusalsToTheClientApisErrors) {
  struct Case {
    ProposeResult refusal;
    Code code;
    std::string says;
    bool retry_elsewhere;
  };
  using R = ProposeResult::Code;
  std::vector<Case> cases = {
      {{R::kNotLeader, {}, 0, "", ""}, Code::kUnavailable, "no leader is elected", false},
      {{R::kRetry, {}, 0, "", ""}, Code::kUnavailable, "same idempotency key", false},
      {{R::kOverloaded, {}, 0, "", ""}, Code::kResourceExhausted, "back off", false},
      {{R::kShutdown, {}, 0, "", ""}, Code::kUnavailable, "shutting down", false},
      {{R::kDiskFull, {}, 0, "", "the disk of /data is full"},
       Code::kUnavailable,
       "the disk of /data is full",
       true},
  };
  for (const auto& c : cases) {
    port_.refuse_with(c.refusal);
    auto out = submit("echo hi");
    EXPECT_EQ(out.error.code, c.code) << c.says;
    EXPECT_NE(out.error.message.find(c.says), std::string::npos) << out.error.message;
    EXPECT_EQ(out.error.retry_elsewhere, c.retry_elsewhere) << c.says;
  }
}

TEST_F(ServiceTest, AFollowerNamesTheLeader) {
  port_.refuse_with({ProposeResult::Code::kNotLeader, {}, 3, "10.0.0.3:7000", ""});
  auto out = submit("echo hi");
  EXPECT_EQ(out.error.code, Code::kNotLeader);
  EXPECT_EQ(out.error.leader_id, 3u);
  EXPECT_EQ(out.error.leader_address, "10.0.0.3:7000");
  EXPECT_NE(out.error.message.find("node 3 at 10.0.0.3:7000"), std::string::npos);
}

TEST_F(ServiceTest, AKeyReusedWithTheSameRequestGetsTheSameJobAndWithAnotherIsRefused) {
  nomad_lite::SubmitJobRequest request;
  request.set_command("echo hi");
  request.set_idempotency_key("same");
  auto first = submit(request);
  ASSERT_TRUE(first.ok());
  auto again = submit(request);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value.job().id(), first.value.job().id());

  request.set_command("echo other");
  auto other = submit(request);
  EXPECT_EQ(other.error.code, Code::kAlreadyExists);
  EXPECT_NE(other.error.message.find("different command"), std::string::npos);
  EXPECT_NE(other.error.message.find(first.value.job().id()), std::string::npos);
  request.set_command("echo hi");
  request.set_priority(5);
  EXPECT_NE(submit(request).error.message.find("different priority"), std::string::npos);
}

TEST_F(ServiceTest, ASubmissionThatWaitsAnswersWhenTheJobIsFinal) {
  nomad_lite::SubmitJobRequest request;
  request.set_command("echo hi");
  request.set_wait_ms(10'000);
  auto promise = std::make_shared<std::promise<Outcome<nomad_lite::SubmitJobResponse>>>();
  auto future = promise->get_future();
  service_.submit_job(request, [promise](auto out) { promise->set_value(std::move(out)); });
  ASSERT_EQ(port_.wait_deadlines().size(), 1u);  // submitted, now waiting
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  std::string id = port_.proposed()[0].submit().job().id();
  run(id, 1, 0);
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto out = future.get();
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out.value.done());
  EXPECT_EQ(out.value.job().status(), nomad_lite::JOB_STATUS_COMPLETED);
}

TEST_F(ServiceTest, ASubmissionWhoseWaitRunsOutAnswersWithTheJobAsItIs) {
  nomad_lite::SubmitJobRequest request;
  request.set_command("sleep 1000");
  request.set_wait_ms(10 * 60'000);  // more than the longest wait
  auto promise = std::make_shared<std::promise<Outcome<nomad_lite::SubmitJobResponse>>>();
  auto future = promise->get_future();
  auto before = Clock::now();
  service_.submit_job(request, [promise](auto out) { promise->set_value(std::move(out)); });
  ASSERT_EQ(port_.wait_deadlines().size(), 1u);
  EXPECT_LE(port_.wait_deadlines()[0], Clock::now() + std::chrono::milliseconds(kMaxWaitMs));
  EXPECT_GE(port_.wait_deadlines()[0], before + std::chrono::milliseconds(kMaxWaitMs));
  port_.expire_waits();
  auto out = future.get();
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out.value.done());
  EXPECT_EQ(out.value.job().status(), nomad_lite::JOB_STATUS_PENDING);
  EXPECT_FALSE(out.value.job().id().empty());
}

TEST_F(ServiceTest, ASubmissionWhoseWaitCannotBeKeptStillAnswersWithTheJob) {
  nomad_lite::SubmitJobRequest request;
  request.set_command("sleep 1000");
  request.set_wait_ms(1000);
  auto promise = std::make_shared<std::promise<Outcome<nomad_lite::SubmitJobResponse>>>();
  auto future = promise->get_future();
  service_.submit_job(request, [promise](auto out) { promise->set_value(std::move(out)); });
  port_.stop_waits();  // the node stops
  auto out = future.get();
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out.value.done());
  EXPECT_EQ(out.value.job().id(), port_.proposed()[0].submit().job().id());
}

TEST_F(ServiceTest, WaitJobRefusesUnknownAndMalformedIdsAndTimesOut) {
  nomad_lite::WaitJobRequest wait;
  auto empty = answer_of<nomad_lite::WaitJobResponse>(
      [&](auto done) { service_.wait_job(wait, std::move(done)); });
  EXPECT_EQ(empty.error.code, Code::kInvalidArgument);
  wait.set_job_id("nope");
  auto unknown = answer_of<nomad_lite::WaitJobResponse>(
      [&](auto done) { service_.wait_job(wait, std::move(done)); });
  EXPECT_EQ(unknown.error.code, Code::kNotFound);

  auto job = submit("sleep 1000").value.job();
  wait.set_job_id(job.id());
  wait.set_timeout_ms(50);
  auto promise = std::make_shared<std::promise<Outcome<nomad_lite::WaitJobResponse>>>();
  service_.wait_job(wait, [promise](auto out) { promise->set_value(std::move(out)); });
  port_.expire_waits();
  auto timed_out = promise->get_future().get();
  ASSERT_TRUE(timed_out.ok());
  EXPECT_FALSE(timed_out.value.done());
  EXPECT_EQ(timed_out.value.job().id(), job.id());
}

TEST_F(ServiceTest, CancelOfAnUnknownJobIsNotFoundOnTheLeaderAndPassedOnByAFollower) {
  nomad_lite::CancelJobRequest cancel;
  cancel.set_job_id("nope");
  auto on_leader =
      answer_of<nomad_lite::Job>([&](auto done) { service_.cancel_job(cancel, std::move(done)); });
  EXPECT_EQ(on_leader.error.code, Code::kNotFound);
  EXPECT_TRUE(port_.proposed().empty());

  port_.leader = false;
  port_.refuse_with({ProposeResult::Code::kNotLeader, {}, 2, "10.0.0.2:7000", ""});
  auto on_follower =
      answer_of<nomad_lite::Job>([&](auto done) { service_.cancel_job(cancel, std::move(done)); });
  EXPECT_EQ(on_follower.error.code, Code::kNotLeader);
  EXPECT_EQ(port_.proposed().size(), 1u);
}

TEST_F(ServiceTest, CancelOfAFinishedJobIsAFailedPrecondition) {
  auto job = submit("true").value.job();
  run(job.id(), 1, 0);
  nomad_lite::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  auto out =
      answer_of<nomad_lite::Job>([&](auto done) { service_.cancel_job(cancel, std::move(done)); });
  EXPECT_EQ(out.error.code, Code::kFailedPrecondition);
}

TEST_F(ServiceTest, ListRefusesAnUnknownStatusAQueryWithNulAndAForeignPageToken) {
  nomad_lite::ListJobsRequest request;
  request.set_status(static_cast<nomad_lite::JobStatus>(42));
  EXPECT_EQ(service_.list_jobs(request).error.code, Code::kInvalidArgument);
  request.set_status(nomad_lite::JOB_STATUS_UNSPECIFIED);
  request.set_query(std::string("a\0", 2));
  EXPECT_EQ(service_.list_jobs(request).error.code, Code::kInvalidArgument);
  request.clear_query();
  for (const char* token : {"0", "01", "-1", "x", "99999999999999999999999"}) {
    request.set_page_token(token);
    auto out = service_.list_jobs(request);
    EXPECT_EQ(out.error.code, Code::kInvalidArgument) << token;
    EXPECT_NE(out.error.message.find("page_token"), std::string::npos);
  }
}

TEST_F(ServiceTest, GetJobRefusesAnEmptyIdAndAnIdWithNul) {
  nomad_lite::GetJobStatusRequest get;
  EXPECT_EQ(service_.get_job(get).error.code, Code::kInvalidArgument);
  get.set_job_id(std::string("a\0", 2));
  EXPECT_EQ(service_.get_job(get).error.code, Code::kInvalidArgument);
  get.set_job_id("nope");
  EXPECT_EQ(service_.get_job(get).error.code, Code::kNotFound);
}

TEST_F(ServiceTest, ClusterStatusReportsThePortsView) {
  port_.state.role = "leader";
  port_.state.term = 7;
  port_.state.leader_id = 1;
  port_.state.tls = true;
  port_.state.nodes.push_back({1, "127.0.0.1:7001", "leader", true, 9, 0});
  auto status = service_.cluster_status();
  EXPECT_EQ(status.node_id(), 1u);
  EXPECT_EQ(status.role(), "leader");
  EXPECT_EQ(status.term(), 7u);
  EXPECT_TRUE(status.security().tls());
  EXPECT_FALSE(status.security().insecure());
  ASSERT_EQ(status.nodes_size(), 1);
  EXPECT_EQ(status.nodes(0).match_index(), 9u);
}

TEST_F(ServiceTest, ClusterStatusShowsAnAgentsCapacityAsAServers) {
  nomad_lite::Command registered;
  auto* r = registered.mutable_agent_registered();
  r->set_id_floor(100);
  r->set_address("127.0.0.1:7101");
  r->set_name("gpu-agent");
  ASSERT_TRUE(port_.apply(registered).status);
  nomad_lite::Command slots;
  auto* s = slots.mutable_updates()->add_slots();
  s->set_node_id(101);
  s->set_slots(4);
  s->set_agent(true);
  s->mutable_capacity()->set_cpu(8);
  s->mutable_capacity()->set_memory_bytes(uint64_t{16} << 30);
  (*s->mutable_capacity()->mutable_labels())["gpu"] = "true";
  ASSERT_TRUE(port_.apply(slots).status);
  run(submit("sleep 9").value.job().id(), 101, std::nullopt);

  auto status = service_.cluster_status();
  ASSERT_EQ(status.nodes_size(), 1);
  const auto& agent = status.nodes(0);
  EXPECT_TRUE(agent.agent());
  EXPECT_EQ(agent.slots(), 4u);
  EXPECT_EQ(agent.capacity().cpu(), 8);
  EXPECT_EQ(agent.capacity().memory_bytes(), uint64_t{16} << 30);
  EXPECT_EQ(agent.capacity().labels().at("gpu"), "true");
  EXPECT_EQ(agent.running_jobs(), 1u);
}

TEST_F(ServiceTest, OutputIsReadHereOrFromTheNodeThatRanTheAttempt) {
  auto job = submit("echo hi").value.job();
  run(job.id(), 1, 0);
  port_.local_output[{job.id(), 1, false}] = "hi\n";
  nomad_lite::JobLogsRequest request;
  request.set_job_id(job.id());
  std::string got;
  auto write = [&](const nomad_lite::LogChunk& c) {
    got += c.data();
    return true;
  };
  EXPECT_EQ(service_.stream_logs(request, write, [] { return false; }).code, Code::kOk);
  EXPECT_EQ(got, "hi\n");

  auto remote = submit("echo there").value.job();
  run(remote.id(), 2, std::nullopt);
  port_.remote_output = "there\n";
  got.clear();
  request.set_job_id(remote.id());
  EXPECT_EQ(service_.stream_logs(request, write, [] { return false; }).code, Code::kOk);
  EXPECT_EQ(got, "there\n");
  EXPECT_EQ(port_.remote_reads(), std::vector<uint64_t>{2});

  // Its node out of reach while the attempt runs: unavailable, naming the node.
  port_.remote_output.reset();
  auto error = service_.stream_logs(request, write, [] { return false; });
  EXPECT_EQ(error.code, Code::kUnavailable);
  EXPECT_NE(error.message.find("node 2"), std::string::npos);
  request.set_attempt(5);
  EXPECT_EQ(service_.stream_logs(request, write, [] { return false; }).code, Code::kNotFound);
}

// --- waits woken by the job's changes -------------------------------------------------------

TEST_F(ServiceTest, FollowedOutputOfAPendingJobStartsAsSoonAsItsAttemptIsApplied) {
  auto job = submit("echo hi").value.job();
  port_.local_output[{job.id(), 1, false}] = "hi\n";
  nomad_lite::JobLogsRequest request;
  request.set_job_id(job.id());
  request.set_follow(true);
  size_t reads_before = port_.store_reads();
  std::atomic<bool> got_output{false};
  std::thread reader([&] {
    service_.stream_logs(
        request,
        [&](const nomad_lite::LogChunk& c) {
          if (!c.data().empty()) got_output = true;
          return true;
        },
        [] { return false; });
  });
  ASSERT_TRUE(eventually([&] { return port_.store_reads() > reads_before; }));  // waiting
  auto event = Clock::now();
  run(job.id(), 1, 0);
  ASSERT_TRUE(eventually([&] { return got_output.load(); }));
  auto latency = Clock::now() - event;
  reader.join();
  // The old loop looked every 100 ms; a notified wait answers well within that.
  EXPECT_LT(latency, std::chrono::milliseconds(50));
  // Read at the start and once per change (assign, started, finished), not on a timer.
  EXPECT_LE(port_.store_reads() - reads_before, 5u);
}

TEST_F(ServiceTest, AWaitForAFirstAttemptEndsWhenTheClientGoesAway) {
  auto job = submit("echo hi").value.job();
  nomad_lite::JobLogsRequest request;
  request.set_job_id(job.id());
  request.set_follow(true);
  std::atomic<bool> gone{false};
  std::atomic<bool> returned{false};
  size_t reads_before = port_.store_reads();
  std::thread reader([&] {
    service_.stream_logs(
        request, [](const nomad_lite::LogChunk&) { return true; }, [&] { return gone.load(); });
    returned = true;
  });
  ASSERT_TRUE(eventually([&] { return port_.store_reads() > reads_before; }));
  auto event = Clock::now();
  gone = true;
  service_.recheck(job.id());
  ASSERT_TRUE(eventually([&] { return returned.load(); }));
  EXPECT_LT(Clock::now() - event, std::chrono::milliseconds(500));  // not the 1 s safety net
  reader.join();
}

TEST_F(ServiceTest, AwaitJobWakesOnTheChangeAndGivesUpAtItsDeadline) {
  auto job = submit("echo hi").value.job();
  auto is_final = [](const nomad_lite::Job& j) { return jobs::is_final(j.status()); };
  std::atomic<bool> woke{false};
  size_t reads_before = port_.store_reads();
  std::thread waiter([&] {
    woke = service_.await_job(job.id(), is_final, Clock::now() + std::chrono::seconds(10));
  });
  ASSERT_TRUE(eventually([&] { return port_.store_reads() > reads_before; }));
  auto event = Clock::now();
  run(job.id(), 1, 0);
  ASSERT_TRUE(eventually([&] { return woke.load(); }));
  EXPECT_LT(Clock::now() - event, std::chrono::milliseconds(50));
  waiter.join();

  auto other = submit("sleep 1000").value.job();
  auto start = Clock::now();
  EXPECT_FALSE(service_.await_job(other.id(), is_final, start + std::chrono::milliseconds(30)));
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(30));
}

TEST_F(ServiceTest, StopEndsEveryBlockingWait) {
  auto job = submit("sleep 1000").value.job();
  std::atomic<bool> returned{false};
  size_t reads_before = port_.store_reads();
  std::thread waiter([&] {
    service_.await_job(
        job.id(), [](const nomad_lite::Job&) { return false; },
        Clock::now() + std::chrono::seconds(30));
    returned = true;
  });
  ASSERT_TRUE(eventually([&] { return port_.store_reads() > reads_before; }));
  service_.stop();
  ASSERT_TRUE(eventually([&] { return returned.load(); }));
  waiter.join();
}

}  // namespace
}  // namespace nomad::api
