// The REST server's routes on a fake cluster port: a known path asked with a method it does not
// take gets 405 and an Allow header, both from the one route table; a submission that asks to
// wait answers with the final job; every JSON body refuses a key given twice.

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api/service.h"
#include "fake_cluster_port.h"
#include "http/http_server.h"
#include "support/eventually.h"
#include "support/job_commands.h"

namespace nomad::http {
namespace {

using Clock = std::chrono::steady_clock;

using nomad::testing::eventually;

class HttpRoutesTest : public ::testing::Test {
 protected:
  HttpRoutesTest() : service_(port_), server_(service_) {
    port_.state.node_id = 1;
    port_.state.leader_id = 1;
    Status s = server_.bind("127.0.0.1", 0);
    EXPECT_TRUE(s) << s.message();
    server_.start();
  }
  ~HttpRoutesTest() override { server_.stop(); }

  httplib::Result send(const std::string& method, const std::string& path,
                       const std::string& body = "") {
    httplib::Client client("127.0.0.1", server_.port());
    httplib::Request req;
    req.method = method;
    req.path = path;
    if (!body.empty()) {
      req.body = body;
      req.set_header("Content-Type", "application/json");
    }
    return client.send(req);
  }

  api::testing::FakeClusterPort port_;
  api::Service service_;
  HttpServer server_;
};

TEST_F(HttpRoutesTest, AKnownPathWithAnotherMethodIs405WithTheMethodsOfItsRoutes) {
  struct Case {
    std::string method, path, allow;
  };
  for (const Case& c : std::vector<Case>{{"DELETE", "/api/jobs", "GET, POST, HEAD"},
                                         {"GET", "/api/jobs/abc/cancel", "POST"},
                                         {"PUT", "/api/cluster", "GET, HEAD"},
                                         {"POST", "/health/ready", "GET, HEAD"},
                                         {"PATCH", "/api/jobs/abc/logs", "GET, HEAD"},
                                         {"POST", "/", "GET, HEAD"}}) {
    auto res = send(c.method, c.path);
    ASSERT_TRUE(res) << c.method << " " << c.path;
    EXPECT_EQ(res->status, 405) << c.method << " " << c.path;
    EXPECT_EQ(res->get_header_value("Allow"), c.allow) << c.method << " " << c.path;
    EXPECT_NE(res->body.find("is not allowed on " + c.path), std::string::npos) << res->body;
  }
}

TEST_F(HttpRoutesTest, MetricsCountRequestsByRoutePatternAndStatusInPrometheusText) {
  auto count_of = [](const std::string& text, const std::string& series) -> long {
    size_t at = text.find(series + " ");
    if (at == std::string::npos) return 0;
    return std::stol(text.substr(at + series.size() + 1));
  };
  auto before = send("GET", "/metrics");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
  EXPECT_EQ(before->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string job =
      "nomad_lite_http_requests_total{route=\"GET /api/jobs/{id}\",code=\"404\"}";
  const std::string unmatched = "nomad_lite_http_requests_total{route=\"unmatched\",code=\"404\"}";
  long jobs_before = count_of(before->body, job);
  long unmatched_before = count_of(before->body, unmatched);
  // Two job ids, one route pattern: the raw path never becomes a label value.
  ASSERT_TRUE(send("GET", "/api/jobs/no-such-job-1"));
  ASSERT_TRUE(send("GET", "/api/jobs/no-such-job-2"));
  ASSERT_TRUE(send("GET", "/no/such/path"));
  auto after = send("GET", "/metrics");
  ASSERT_TRUE(after);
  EXPECT_EQ(count_of(after->body, job), jobs_before + 2) << after->body;
  EXPECT_EQ(count_of(after->body, unmatched), unmatched_before + 1);
  EXPECT_EQ(after->body.find("no-such-job"), std::string::npos);
  EXPECT_NE(after->body.find("# TYPE nomad_lite_http_request_duration_seconds histogram\n"),
            std::string::npos);
}

TEST_F(HttpRoutesTest, AnUnknownPathIs404WhateverTheMethod) {
  for (const char* method : {"GET", "POST", "DELETE"}) {
    for (const char* path : {"/api/nodes", "/api/jobs/abc/stdout", "/no-such-file.js"}) {
      auto res = send(method, path);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 404) << method << " " << path;
      EXPECT_FALSE(res->has_header("Allow"));
    }
  }
}

TEST_F(HttpRoutesTest, EveryDeclaredRouteAnswersItsMethod) {
  EXPECT_EQ(send("GET", "/api/cluster")->status, 200);
  EXPECT_EQ(send("HEAD", "/api/cluster")->status, 200);
  EXPECT_EQ(send("GET", "/api/jobs")->status, 200);
  EXPECT_EQ(send("GET", "/health/live")->status, 200);
  EXPECT_EQ(send("GET", "/")->status, 200);
  EXPECT_EQ(send("GET", "/api/jobs/nope")->status, 404);  // routed: no such job
}

TEST_F(HttpRoutesTest, ASubmissionThatWaitsAnswersWithTheFinalJob) {
  std::thread runner([this] {
    // Once the submission is waiting, its job runs and ends.
    if (!eventually([&] { return port_.wait_deadlines().size() == 1; })) return;
    std::string id = port_.proposed()[0].submit().job().id();
    port_.apply(jobs::testing::assign_cmd(id, 1, 1, 2000));
    port_.apply(jobs::testing::started_cmd(id, 1, 1, 2001));
    port_.apply(jobs::testing::finished_cmd(id, 1, 1, 2002, 0));
  });
  auto res = send("POST", "/api/jobs", R"({"command": "echo hi", "wait": "10s"})");
  runner.join();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201) << res->body;
  EXPECT_EQ(nlohmann::json::parse(res->body)["status"], "completed") << res->body;

  auto without = send("POST", "/api/jobs", R"({"command": "echo hi"})");
  ASSERT_TRUE(without);
  EXPECT_EQ(nlohmann::json::parse(without->body)["status"], "pending");

  auto too_long = send("POST", "/api/jobs", R"({"command": "echo hi", "wait": "2m"})");
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, 400);
  EXPECT_NE(too_long->body.find("'wait' is 2m; the longest wait is 60s"), std::string::npos)
      << too_long->body;
  auto not_a_duration = send("POST", "/api/jobs", R"({"command": "echo hi", "wait": 5})");
  EXPECT_EQ(not_a_duration->status, 400);
}

TEST_F(HttpRoutesTest, APeriodicJobsBodyIsParsedAsStrictlyAsAJobs) {
  struct Case {
    std::string body, expected;
  };
  for (const Case& c : std::vector<Case>{
           // A duplicate key, at the top (a schedule field or a job field) or nested.
           {R"({"command": "true", "cron": "@yearly", "cron": "* * * * * *"})",
            "the key 'cron' appears more than once"},
           {R"({"command": "true", "every": "1m", "command": "rm -rf /tmp/x"})",
            "the key 'command' appears more than once"},
           {R"({"command": "true", "every": "1m", "env": {"A": "1", "A": "2"}})",
            "the key 'A' appears more than once"},
           {R"({"command": "true", "every": "1m",)", "the body is not valid JSON"},
           {R"(["command"])", "the body must be a JSON object"},
           {R"({"command": "true", "every": "1m", "paused": true})",
            "a periodic job also has cron, every, tz, overlap, catch_up, keep_runs"},
           {R"({"command": "true", "every": "1m", "after": ["j-1"]})",
            "after does not apply to a periodic job"},
           {R"({"command": "true", "cron": ")" + std::string(2000, '1') + R"( * * * *"})",
            "cron is 2008 bytes; the longest expression taken is 1024"}}) {
    auto res = send("POST", "/api/periodic", c.body);
    ASSERT_TRUE(res) << c.body;
    EXPECT_EQ(res->status, 400) << c.body << " -> " << res->body;
    EXPECT_NE(res->body.find(c.expected), std::string::npos) << c.body << " -> " << res->body;
  }
  EXPECT_TRUE(port_.proposed().empty()) << "a refused body must propose nothing";
  // The same key in two different objects is no duplicate.
  auto fine = send("POST", "/api/periodic",
                   R"({"command": "true", "every": "1m", "env": {"command": "1"}})");
  ASSERT_TRUE(fine);
  EXPECT_NE(fine->status, 400) << fine->body;
}

TEST_F(HttpRoutesTest, MemberAndNodeBodiesRefuseAKeyGivenTwiceNamingIt) {
  struct Case {
    std::string path, body, key;
  };
  for (const Case& c : std::vector<Case>{
           {"/api/members", R"({"id": 4, "address": "127.0.0.1:1", "id": 5})", "id"},
           {"/api/nodes/1/drain", R"({"deadline": "5m", "deadline": "0s"})", "deadline"},
           {"/api/nodes/1/eligibility", R"({"eligible": true, "eligible": false})", "eligible"}}) {
    auto res = send("POST", c.path, c.body);
    ASSERT_TRUE(res) << c.path;
    EXPECT_EQ(res->status, 400) << c.path << " " << c.body << " -> " << res->body;
    EXPECT_NE(res->body.find("the key '" + c.key + "' appears more than once"), std::string::npos)
        << c.path << " " << c.body << " -> " << res->body;
  }
  EXPECT_TRUE(port_.proposed().empty()) << "a refused body must propose nothing";
}

}  // namespace
}  // namespace nomad::http
