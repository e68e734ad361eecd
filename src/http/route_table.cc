#include "http/route_table.h"

#include "web/assets.h"

namespace nomad::http {

bool split_job_path(std::string_view path, std::string* id, std::string* rest) {
  constexpr std::string_view kPrefix = "/api/jobs/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return false;
  path.remove_prefix(kPrefix.size());
  size_t slash = path.find('/');
  std::string_view head = path.substr(0, slash);
  if (head.empty()) return false;
  *id = std::string(head);
  *rest = slash == std::string_view::npos ? std::string() : std::string(path.substr(slash));
  return true;
}

std::string allowed_methods(std::string_view path) {
  if (path == "/api/cluster" || path == "/api/events" || path == "/health/live" ||
      path == "/health/ready") {
    return "GET";
  }
  if (path == "/api/jobs") return "GET, POST";
  std::string id, rest;
  if (split_job_path(path, &id, &rest)) {
    if (rest.empty() || rest == "/logs") return "GET";
    if (rest == "/cancel") return "POST";
    return {};
  }
  if (path.starts_with("/api/") || path.starts_with("/health/")) return {};
  return web::find_asset(path) ? "GET" : "";
}

bool method_allowed(std::string_view method, std::string_view allowed) {
  if (method == "HEAD") method = "GET";
  size_t pos = 0;
  while (pos < allowed.size()) {
    size_t comma = allowed.find(',', pos);
    std::string_view one =
        allowed.substr(pos, comma == std::string_view::npos ? comma : comma - pos);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    if (one == method) return true;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

}  // namespace nomad::http
