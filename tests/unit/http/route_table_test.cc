// Known paths and their methods (405 rather than 404 for a wrong method), job paths, and the
// client API's error codes as HTTP statuses.

#include "http/route_table.h"

#include <gtest/gtest.h>

#include "http/errors.h"

namespace nomad::http {
namespace {

// A table shaped as the server's: what the generic table makes of it.
RouteTable<int> sample_table() {
  RouteTable<int> t;
  t.add("GET", "/api/jobs", 1);
  t.add("POST", "/api/jobs", 2);
  t.add("GET", "/api/jobs/{id}", 3);
  t.add("POST", "/api/jobs/{id}/cancel", 4);
  t.add("GET", "{asset}", 5);
  return t;
}

TEST(RouteTable, FindsTheRouteOfAMethodAndPathAndTheJobId) {
  RouteTable<int> t = sample_table();
  std::string id;
  ASSERT_NE(t.find("POST", "/api/jobs", &id), nullptr);
  EXPECT_EQ(t.find("POST", "/api/jobs", &id)->action, 2);
  ASSERT_NE(t.find("HEAD", "/api/jobs", &id), nullptr);  // served as GET
  EXPECT_EQ(t.find("HEAD", "/api/jobs", &id)->action, 1);
  ASSERT_NE(t.find("POST", "/api/jobs/4f2a/cancel", &id), nullptr);
  EXPECT_EQ(id, "4f2a");
  EXPECT_EQ(t.find("GET", "/", &id)->action, 5);  // the dashboard
  EXPECT_EQ(t.find("DELETE", "/api/jobs", &id), nullptr);
  EXPECT_EQ(t.find("GET", "/api/jobs/4f2a/cancel", &id), nullptr);
}

TEST(RouteTable, NamesTheMethodsOfAKnownPathFromItsRoutes) {
  RouteTable<int> t = sample_table();
  EXPECT_EQ(t.allowed("/api/jobs"), "GET, POST");
  EXPECT_EQ(t.allowed("/api/jobs/abc"), "GET");
  EXPECT_EQ(t.allowed("/api/jobs/abc/cancel"), "POST");
  EXPECT_EQ(t.allowed("/"), "GET");
  EXPECT_EQ(RouteTable<int>::allow_header("GET, POST"), "GET, POST, HEAD");
  EXPECT_EQ(RouteTable<int>::allow_header("POST"), "POST");
}

TEST(RouteTable, KnowsNothingElse) {
  RouteTable<int> t = sample_table();
  for (const char* path : {"/api", "/api/", "/api/nodes", "/api/jobs/", "/api/jobs/abc/",
                           "/api/jobs/abc/stdout", "/api/jobs/abc/cancel/x", "/health",
                           "/no-such-file.js", "/api/index.html", "/health/index.html"}) {
    EXPECT_EQ(t.allowed(path), "") << path;
  }
}

TEST(RouteTable, HeadGoesWithGet) {
  EXPECT_TRUE(method_allowed("GET", "GET, POST"));
  EXPECT_TRUE(method_allowed("POST", "GET, POST"));
  EXPECT_TRUE(method_allowed("HEAD", "GET"));
  EXPECT_FALSE(method_allowed("HEAD", "POST"));
  EXPECT_FALSE(method_allowed("DELETE", "GET, POST"));
  EXPECT_FALSE(method_allowed("GE", "GET"));
  EXPECT_FALSE(method_allowed("PUT", ""));
}

TEST(RouteTable, SplitsJobPaths) {
  std::string id, rest;
  ASSERT_TRUE(split_job_path("/api/jobs/4f2a/logs", &id, &rest));
  EXPECT_EQ(id, "4f2a");
  EXPECT_EQ(rest, "/logs");
  ASSERT_TRUE(split_job_path("/api/jobs/4f2a", &id, &rest));
  EXPECT_EQ(rest, "");
  EXPECT_FALSE(split_job_path("/api/jobs/", &id, &rest));
  EXPECT_FALSE(split_job_path("/api/jobs", &id, &rest));
  EXPECT_FALSE(split_job_path("/api/jobz/1", &id, &rest));
}

TEST(ErrorStatus, EachCodeOfTheClientApiHasItsStatus) {
  EXPECT_EQ(http_status(api::Code::kInvalidArgument), 400);
  EXPECT_EQ(http_status(api::Code::kNotFound), 404);
  EXPECT_EQ(http_status(api::Code::kFailedPrecondition), 409);
  EXPECT_EQ(http_status(api::Code::kResourceExhausted), 429);
  EXPECT_EQ(http_status(api::Code::kUnavailable), 503);
  EXPECT_EQ(http_status(api::Code::kNotLeader), 503);  // only when forwarding failed
  EXPECT_EQ(http_status(api::Code::kInternal), 500);
}

TEST(ErrorStatus, ErrorsAreJsonAndSayWhenToRetry) {
  httplib::Response res;
  reply_error(res, {api::Code::kResourceExhausted, "too many requests are waiting", 0, {}});
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(res.get_header_value("Retry-After"), "1");
  EXPECT_EQ(res.body, R"({"error":"too many requests are waiting"})");

  httplib::Response bad;
  reply_error(bad, 400, std::string("not UTF-8: \xc3"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_FALSE(bad.has_header("Retry-After"));
  EXPECT_EQ(nlohmann::json::parse(bad.body)["error"], "not UTF-8: \xef\xbf\xbd");
}

}  // namespace
}  // namespace nomad::http
