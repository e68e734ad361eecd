#include "http/errors.h"

#include "common/quote.h"
#include "http/limits.h"

namespace nomad::http {
namespace {

constexpr size_t kMaxErrorMessageBytes = 1024;

}  // namespace

int http_status(api::Code code) {
  switch (code) {
    case api::Code::kOk:
      return 200;
    case api::Code::kInvalidArgument:
      return 400;
    case api::Code::kNotFound:
      return 404;
    case api::Code::kFailedPrecondition:
    case api::Code::kAlreadyExists:
      return 409;
    case api::Code::kResourceExhausted:
      return 429;
    case api::Code::kNotLeader:  // forwarding failed to reach the leader: retry later
    case api::Code::kUnavailable:
      return 503;
    case api::Code::kInternal:
      return 500;
    case api::Code::kUnauthenticated:
      return 401;
    case api::Code::kPermissionDenied:
      return 403;
  }
  return 500;
}

namespace {

template <class Res>
void json_into(Res& res, int status, const nlohmann::json& body) {
  res.status = status;
  // Replace invalid UTF-8 rather than throw: a job's text is whatever it was given.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

template <class Res>
void error_into(Res& res, int status, const std::string& message) {
  if (status == 429 || status == 503) res.set_header("Retry-After", "1");
  // However long the input a message quotes, the answer stays short.
  json_into(res, status, {{"error", common::bound_message(message, kMaxErrorMessageBytes)}});
}

}  // namespace

void reply_json(Response& res, int status, const nlohmann::json& body) {
  json_into(res, status, body);
}
void reply_json(httplib::Response& res, int status, const nlohmann::json& body) {
  json_into(res, status, body);
}
void reply_error(Response& res, int status, const std::string& message) {
  error_into(res, status, message);
}
void reply_error(httplib::Response& res, int status, const std::string& message) {
  error_into(res, status, message);
}
void reply_error(Response& res, const api::Error& error) {
  error_into(res, http_status(error.code), error.message);
}
void reply_error(httplib::Response& res, const api::Error& error) {
  error_into(res, http_status(error.code), error.message);
}

std::string default_error_message(int status) {
  switch (status) {
    case 400:
      return "the request is malformed";
    case 404:
      return "no such path; the API is under /api/ (see docs/http-api.md)";
    case 405:
      return "this path does not take that method";
    case 413:
      return "the request body is larger than " + std::to_string(kMaxBodyBytes) + " bytes";
    case 414:
      return "the request target is longer than " + std::to_string(kMaxTargetBytes) + " bytes";
    case 431:
      return "the request header is too large";
    case 416:
      return "the requested range cannot be served";
    default:
      return "the request failed (HTTP " + std::to_string(status) + ")";
  }
}

}  // namespace nomad::http
