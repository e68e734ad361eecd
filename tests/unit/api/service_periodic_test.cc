// api::Service's periodic jobs on a fake cluster port (a real JobStore): what it refuses and
// how, what it creates, and pause/resume/run-now/cancel through the store.

#include <gtest/gtest.h>

#include <future>

#include "api/service.h"
#include "fake_cluster_port.h"

namespace nomad::api {
namespace {

using testing::FakeClusterPort;

template <class T, class Call>
Outcome<T> periodic_answer_of(Call&& call) {
  auto promise = std::make_shared<std::promise<Outcome<T>>>();
  auto future = promise->get_future();
  call([promise](Outcome<T> out) { promise->set_value(std::move(out)); });
  EXPECT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  return future.get();
}

class ServicePeriodicTest : public ::testing::Test {
 protected:
  ServicePeriodicTest() : service_(port_) { port_.state.node_id = 1; }

  Outcome<nomad_lite::PeriodicJobResponse> create(const nomad_lite::CreatePeriodicJobRequest& r) {
    return periodic_answer_of<nomad_lite::PeriodicJobResponse>(
        [&](auto done) { service_.create_periodic(r, std::move(done)); });
  }
  Outcome<nomad_lite::PeriodicJobResponse> control(const std::string& id,
                                                   nomad_lite::PeriodicAction action) {
    nomad_lite::ControlPeriodicJobRequest r;
    r.set_periodic_id(id);
    r.set_action(action);
    return periodic_answer_of<nomad_lite::PeriodicJobResponse>(
        [&](auto done) { service_.control_periodic(r, std::move(done)); });
  }
  static nomad_lite::CreatePeriodicJobRequest cron(const std::string& expression,
                                                   const std::string& tz = "") {
    nomad_lite::CreatePeriodicJobRequest r;
    r.mutable_job()->set_command("echo tick");
    r.set_cron(expression);
    r.set_tz(tz);
    return r;
  }

  FakeClusterPort port_;
  Service service_;
};

TEST_F(ServicePeriodicTest, BadSchedulesAreInvalidArgumentWithTheParsersMessage) {
  struct Case {
    nomad_lite::CreatePeriodicJobRequest request;
    std::string names;
  };
  nomad_lite::CreatePeriodicJobRequest both = cron("* * * * *");
  both.set_every_ms(1000);
  nomad_lite::CreatePeriodicJobRequest neither = cron("");
  nomad_lite::CreatePeriodicJobRequest fast = cron("");
  fast.set_every_ms(200);
  nomad_lite::CreatePeriodicJobRequest zone_for_interval = cron("");
  zone_for_interval.set_every_ms(1000);
  zone_for_interval.set_tz("Europe/Berlin");
  nomad_lite::CreatePeriodicJobRequest no_command = cron("* * * * *");
  no_command.mutable_job()->set_command(" ");
  nomad_lite::CreatePeriodicJobRequest keep_none = cron("* * * * *");
  keep_none.set_keep_runs(0);
  for (const auto& c : {Case{cron("61 * * * *"), "minute"}, Case{cron("0 0 30 2 *"), "never"},
                        Case{cron("0 3 * * *", "Mars/Olympus"), "Mars/Olympus"},
                        Case{both, "exactly one"}, Case{neither, "exactly one"}, Case{fast, "1s"},
                        Case{zone_for_interval, "cron schedules only"},
                        Case{no_command, "command is empty"}, Case{keep_none, "keep_runs"}}) {
    auto out = create(c.request);
    EXPECT_EQ(out.error.code, Code::kInvalidArgument) << c.names;
    EXPECT_NE(out.error.message.find(c.names), std::string::npos) << out.error.message;
  }
  EXPECT_TRUE(port_.proposed().empty());
}

TEST_F(ServicePeriodicTest, CreatesAPeriodicJobWithTheChildTemplate) {
  nomad_lite::CreatePeriodicJobRequest r = cron("*/5 * * * *", "Europe/Berlin");
  r.mutable_job()->set_timeout_ms(3000);
  r.mutable_job()->set_retries(2);
  (*r.mutable_job()->mutable_env())["A"] = "1";
  r.set_overlap(nomad_lite::OVERLAP_SKIP);
  auto out = create(r);
  ASSERT_TRUE(out.ok()) << out.error.message;
  const nomad_lite::PeriodicJob& p = out.value.periodic().periodic();
  EXPECT_EQ(p.id().size(), 18u);
  EXPECT_EQ(p.id().rfind("p-", 0), 0u);
  EXPECT_EQ(p.cron(), "*/5 * * * *");
  EXPECT_EQ(p.tz(), "Europe/Berlin");
  EXPECT_EQ(p.keep_runs(), 100u);
  EXPECT_EQ(p.overlap(), nomad_lite::OVERLAP_SKIP);
  EXPECT_EQ(p.child().command(), "echo tick");
  EXPECT_EQ(p.child().timeout_ms(), 3000u);
  EXPECT_EQ(p.child().lost_retries(), 3u);
  EXPECT_TRUE(p.child().id().empty());
  EXPECT_GT(out.value.periodic().next_run_ms(), p.created_at_ms());
}

TEST_F(ServicePeriodicTest, ARetriedCreationGetsThePeriodicJobItCreated) {
  nomad_lite::CreatePeriodicJobRequest r = cron("@daily");
  r.mutable_job()->set_idempotency_key("create-1");
  auto first = create(r);
  auto again = create(r);
  ASSERT_TRUE(first.ok() && again.ok()) << again.error.message;
  EXPECT_EQ(first.value.periodic().periodic().id(), again.value.periodic().periodic().id());
  r.mutable_job()->set_idempotency_key("create-2");
  auto other = create(r);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other.value.periodic().periodic().id(), first.value.periodic().periodic().id());
  size_t count = 0;
  port_.read_jobs([&](const jobs::JobStore& store) { count = store.periodic().size(); });
  EXPECT_EQ(count, 2u);
}

TEST_F(ServicePeriodicTest, PauseResumeRunNowCancel) {
  nomad_lite::CreatePeriodicJobRequest r = cron("");
  r.set_every_ms(60'000);
  auto created = create(r);
  ASSERT_TRUE(created.ok());
  const std::string id = created.value.periodic().periodic().id();
  auto paused = control(id, nomad_lite::PERIODIC_PAUSE);
  ASSERT_TRUE(paused.ok()) << paused.error.message;
  EXPECT_TRUE(paused.value.periodic().periodic().paused());
  EXPECT_EQ(paused.value.periodic().next_run_ms(), 0);
  EXPECT_TRUE(control(id, nomad_lite::PERIODIC_RESUME).ok());
  auto now = control(id, nomad_lite::PERIODIC_RUN_NOW);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now.value.job().id(), id + "-now-1");
  EXPECT_EQ(now.value.job().periodic_id(), id);
  EXPECT_EQ(now.value.job().command(), "echo tick");
  EXPECT_TRUE(control(id, nomad_lite::PERIODIC_CANCEL).ok());
  auto again = control(id, nomad_lite::PERIODIC_RESUME);
  EXPECT_EQ(again.error.code, Code::kFailedPrecondition);
  EXPECT_NE(again.error.message.find("cancelled"), std::string::npos);
  EXPECT_EQ(control("p-0000000000000000", nomad_lite::PERIODIC_PAUSE).error.code, Code::kNotFound);
  EXPECT_EQ(control(id, nomad_lite::PERIODIC_ACTION_UNSPECIFIED).error.code,
            Code::kInvalidArgument);
}

TEST_F(ServicePeriodicTest, ReadsListAndGet) {
  nomad_lite::CreatePeriodicJobRequest r = cron("@hourly");
  ASSERT_TRUE(create(r).ok());
  auto list = periodic_answer_of<nomad_lite::ListPeriodicJobsResponse>(
      [&](auto done) { service_.read_periodic_list({}, std::move(done)); });
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value.periodic_size(), 1);
  nomad_lite::GetPeriodicJobRequest get;
  get.set_periodic_id(list.value.periodic(0).periodic().id());
  auto one = periodic_answer_of<nomad_lite::PeriodicJobResponse>(
      [&](auto done) { service_.read_periodic(get, std::move(done)); });
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.value.periodic().periodic().cron(), "@hourly");
  get.set_periodic_id("p-nothere");
  auto missing = periodic_answer_of<nomad_lite::PeriodicJobResponse>(
      [&](auto done) { service_.read_periodic(get, std::move(done)); });
  EXPECT_EQ(missing.error.code, Code::kNotFound);
}

}  // namespace
}  // namespace nomad::api
