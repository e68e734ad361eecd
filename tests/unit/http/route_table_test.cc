// Known paths and their methods (405 rather than 404 for a wrong method), job paths, and the
// client API's error codes as HTTP statuses.

#include "http/route_table.h"

#include <gtest/gtest.h>

#include "http/errors.h"

namespace nomad::http {
namespace {

TEST(RouteTable, NamesTheMethodsOfEveryKnownPath) {
  EXPECT_EQ(allowed_methods("/api/cluster"), "GET");
  EXPECT_EQ(allowed_methods("/api/jobs"), "GET, POST");
  EXPECT_EQ(allowed_methods("/api/jobs/abc"), "GET");
  EXPECT_EQ(allowed_methods("/api/jobs/abc/logs"), "GET");
  EXPECT_EQ(allowed_methods("/api/jobs/abc/cancel"), "POST");
  EXPECT_EQ(allowed_methods("/api/events"), "GET");
  EXPECT_EQ(allowed_methods("/health/live"), "GET");
  EXPECT_EQ(allowed_methods("/health/ready"), "GET");
  EXPECT_EQ(allowed_methods("/"), "GET");  // the dashboard
}

TEST(RouteTable, KnowsNothingElse) {
  for (const char* path : {"/api", "/api/", "/api/nodes", "/api/jobs/", "/api/jobs/abc/",
                           "/api/jobs/abc/stdout", "/api/jobs/abc/logs/x", "/health",
                           "/health/other", "/no-such-file.js", "/api/index.html"}) {
    EXPECT_EQ(allowed_methods(path), "") << path;
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
