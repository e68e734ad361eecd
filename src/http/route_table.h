#pragma once

// Which paths the server knows and which methods each takes, so that a known path asked with
// the wrong method is answered 405 (with Allow) rather than 404.

#include <string>
#include <string_view>

namespace nomad::http {

// "GET", "POST" or "GET, POST" for a known path (HEAD goes with GET); empty when unknown.
std::string allowed_methods(std::string_view path);

// Whether `method` may be used on a path whose allowed methods are `allowed`.
bool method_allowed(std::string_view method, std::string_view allowed);

// The path of an /api/jobs/{id}... route, split: ("abc", "/logs") for /api/jobs/abc/logs.
// An id is one non-empty path segment.
bool split_job_path(std::string_view path, std::string* id, std::string* rest);

}  // namespace nomad::http
