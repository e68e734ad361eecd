#pragma once

// The server's routes, each declared once: method, path pattern, and what answers it. The same
// table finds a request's route and, for a known path asked with another method, names the
// methods it takes (405 with Allow rather than 404).
//
// A pattern is an exact path ("/api/jobs"), a path with "{id}" for one path segment
// ("/api/jobs/{id}/logs", "/api/nodes/{id}/drain"), or "{asset}": any file of the dashboard (web/).

#include <string>
#include <string_view>
#include <vector>

namespace nomad::http {

// Whether `path` matches `pattern`; the segment that stands for {id} goes to *id.
bool pattern_matches(std::string_view pattern, std::string_view path, std::string* id);

// Whether `method` may be used on a path whose allowed methods are `allowed`.
bool method_allowed(std::string_view method, std::string_view allowed);

// The path of an /api/jobs/{id}... route, split: ("abc", "/logs") for /api/jobs/abc/logs.
// An id is one non-empty path segment.
bool split_job_path(std::string_view path, std::string* id, std::string* rest);

template <class Action>
class RouteTable {
 public:
  struct Route {
    std::string method;
    std::string pattern;
    Action action;
  };

  void add(std::string method, std::string pattern, Action action) {
    routes_.push_back({std::move(method), std::move(pattern), std::move(action)});
  }

  // The first route for `method` (HEAD is served as GET) and `path`, or null; the job id of an
  // {id} pattern goes to *id.
  const Route* find(std::string_view method, std::string_view path, std::string* id) const {
    if (method == "HEAD") method = "GET";
    for (const Route& r : routes_) {
      if (r.method == method && pattern_matches(r.pattern, path, id)) return &r;
    }
    return nullptr;
  }

  // The methods of every route whose pattern matches `path`, in the order declared, each
  // once ("GET, POST"); empty when none does.
  std::string allowed(std::string_view path) const {
    std::string out;
    std::string ignored;
    for (const Route& r : routes_) {
      if (!pattern_matches(r.pattern, path, &ignored) || method_allowed(r.method, out)) continue;
      out += (out.empty() ? "" : ", ") + r.method;
    }
    return out;
  }

  // The Allow header for `allowed`: HEAD goes with GET.
  static std::string allow_header(const std::string& allowed) {
    return method_allowed("GET", allowed) ? allowed + ", HEAD" : allowed;
  }

 private:
  std::vector<Route> routes_;
};

}  // namespace nomad::http
