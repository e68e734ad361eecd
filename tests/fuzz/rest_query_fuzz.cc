// libFuzzer target: arbitrary bytes as a REST request target ("/api/jobs/ID/logs?follow=1").
// The path goes through the route table (405 checks, job ids), the query string through
// httplib's parser (the server's own) and then the job list's and job output's parameters.
// Each must answer or refuse clearly, never crash; accepted parameters, written back as a
// query string, must parse to the same request.

#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "api/json.h"
#include "fuzz_check.h"
#include "http/request_parse.h"
#include "http/route_table.h"

using namespace nomad;

namespace {

std::string param(const std::string& name, const std::string& value) {
  return "&" + name + "=" + httplib::detail::encode_query_param(value);
}

http::QueryParams reparse(const std::string& query) {
  http::QueryParams params;
  httplib::detail::parse_query_text(query.empty() ? query : query.substr(1), params);
  return params;
}

void check_list(const http::QueryParams& params) {
  auto first = http::parse_list_query(params);
  if (!first.ok()) {
    FUZZ_CHECK(!first.error.message.empty(), "refused list parameters get a message");
    return;
  }
  const auto& r = first.value;
  std::string query;
  if (r.status() != nomad_lite::JOB_STATUS_UNSPECIFIED) {
    query += param("status", std::string(api::job_status_name(r.status())));
  }
  if (!r.query().empty()) query += param("q", r.query());
  if (r.limit() != 0) query += param("limit", std::to_string(r.limit()));
  if (!r.page_token().empty()) query += param("page_token", r.page_token());
  if (r.min_index() != 0) query += param("min_index", std::to_string(r.min_index()));
  if (r.consistent()) query += param("consistent", "1");
  auto second = http::parse_list_query(reparse(query));
  FUZZ_CHECK(second.ok(), "list parameters written back parse again");
  FUZZ_CHECK(second.value.SerializeAsString() == r.SerializeAsString(),
             "list parameters written back parse to the same request");
}

void check_logs(const std::string& job_id, const http::QueryParams& params) {
  auto first = http::parse_logs_query(job_id, params);
  if (!first.ok()) {
    FUZZ_CHECK(!first.error.message.empty(), "refused output parameters get a message");
    return;
  }
  const auto& r = first.value;
  FUZZ_CHECK(r.job_id() == job_id, "the job id is the path's");
  std::string query = param("stream", r.stderr() ? "stderr" : "stdout") +
                      param("follow", r.follow() ? "1" : "0") +
                      param("offset", std::to_string(r.offset()));
  if (r.attempt() != 0) query += param("attempt", std::to_string(r.attempt()));
  if (r.min_index() != 0) query += param("min_index", std::to_string(r.min_index()));
  if (r.consistent()) query += param("consistent", "1");
  auto second = http::parse_logs_query(job_id, reparse(query));
  FUZZ_CHECK(second.ok(), "output parameters written back parse again");
  FUZZ_CHECK(second.value.SerializeAsString() == r.SerializeAsString(),
             "output parameters written back parse to the same request");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string target(reinterpret_cast<const char*>(data), size);
  size_t question = target.find('?');
  std::string path = httplib::detail::decode_url(target.substr(0, question), false);
  http::QueryParams params;
  if (question != std::string::npos) {
    httplib::detail::parse_query_text(target.substr(question + 1), params);
  }

  // A table shaped as the server's (its routes are declared with their handlers).
  static const http::RouteTable<int> table = [] {
    http::RouteTable<int> t;
    t.add("GET", "/api/jobs", 0);
    t.add("POST", "/api/jobs", 0);
    t.add("GET", "/api/jobs/{id}/logs", 0);
    t.add("POST", "/api/jobs/{id}/cancel", 0);
    t.add("GET", "{asset}", 0);
    return t;
  }();
  std::string allowed = table.allowed(path);
  for (const char* method : {"GET", "HEAD", "POST", "DELETE"}) {
    bool ok = http::method_allowed(method, allowed);
    FUZZ_CHECK(!ok || !allowed.empty(), "no method is allowed on an unknown path");
    std::string route_id;
    FUZZ_CHECK((table.find(method, path, &route_id) != nullptr) == ok,
               "a path has a route for exactly the methods it allows");
  }
  std::string id, rest;
  if (http::split_job_path(path, &id, &rest)) {
    FUZZ_CHECK(!id.empty() && id.find('/') == std::string::npos, "a job id is one segment");
    FUZZ_CHECK("/api/jobs/" + id + rest == path, "the split path joins back to the path");
  }

  check_list(params);
  check_logs(id, params);
  return 0;
}
