#pragma once

// Every error of the REST API is JSON {"error": "..."} with a fitting status, never an HTML
// page: this maps the client API's error codes to statuses and writes the bodies.

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "api/service.h"
#include "http/message.h"

namespace nomad::http {

// 400 invalid argument, 404 not found, 409 failed precondition (a finished job), 429 resource
// exhausted, 503 unavailable (no leader, or not the leader: a forward failed), 500 internal.
int http_status(api::Code code);

// A JSON body with `status`.
void reply_json(Response& res, int status, const nlohmann::json& body);
void reply_json(httplib::Response& res, int status, const nlohmann::json& body);

// {"error": message}; 429 and 503 also say when to retry (Retry-After).
void reply_error(Response& res, int status, const std::string& message);
void reply_error(Response& res, const api::Error& error);
void reply_error(httplib::Response& res, int status, const std::string& message);
void reply_error(httplib::Response& res, const api::Error& error);

// What to tell a client for an error status the server produces by itself (a request it could
// not parse, a body too large, an unknown path).
std::string default_error_message(int status);

}  // namespace nomad::http
