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

bool pattern_matches(std::string_view pattern, std::string_view path, std::string* id) {
  constexpr std::string_view kJob = "/api/jobs/{id}";
  if (pattern == "{asset}") {
    // The API and the health checks are never files, whatever web/ holds.
    return !path.starts_with("/api/") && !path.starts_with("/health/") &&
           web::find_asset(path) != nullptr;
  }
  if (pattern.starts_with(kJob)) {
    std::string rest;
    return split_job_path(path, id, &rest) && rest == pattern.substr(kJob.size());
  }
  // Any other pattern with {id} (/api/nodes/{id}/drain): one non-empty segment stands for it.
  if (size_t brace = pattern.find("{id}"); brace != std::string_view::npos) {
    std::string_view prefix = pattern.substr(0, brace), suffix = pattern.substr(brace + 4);
    if (!path.starts_with(prefix)) return false;
    std::string_view rest = path.substr(prefix.size());
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    std::string_view tail = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (segment.empty() || tail != suffix) return false;
    *id = std::string(segment);
    return true;
  }
  return pattern == path;
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
