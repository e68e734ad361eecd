#include "api/json.h"

#include <ctime>

#include "common/duration.h"

namespace nomad::api {
namespace {

using nlohmann::json;

json string_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

json timestamp_or_null(int64_t unix_ms) {
  return unix_ms == 0 ? json(nullptr) : json(format_timestamp(unix_ms));
}

}  // namespace

std::string_view job_status_name(nomad_lite::JobStatus status) {
  switch (status) {
    case nomad_lite::JOB_STATUS_PENDING:
      return "pending";
    case nomad_lite::JOB_STATUS_RUNNING:
      return "running";
    case nomad_lite::JOB_STATUS_COMPLETED:
      return "completed";
    case nomad_lite::JOB_STATUS_FAILED:
      return "failed";
    case nomad_lite::JOB_STATUS_CANCELLED:
      return "cancelled";
    default:
      return "unknown";
  }
}

std::optional<nomad_lite::JobStatus> parse_job_status(std::string_view name) {
  if (name == "pending") return nomad_lite::JOB_STATUS_PENDING;
  if (name == "running") return nomad_lite::JOB_STATUS_RUNNING;
  if (name == "completed") return nomad_lite::JOB_STATUS_COMPLETED;
  if (name == "failed") return nomad_lite::JOB_STATUS_FAILED;
  if (name == "cancelled" || name == "canceled") return nomad_lite::JOB_STATUS_CANCELLED;
  return std::nullopt;
}

std::string format_timestamp(int64_t unix_ms) {
  // Floor division, so that times before 1970 still get a millisecond part in [0, 999].
  int64_t seconds = unix_ms / 1000, millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[40];
  size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", static_cast<int>(millis));
  return buffer;
}

nlohmann::json job_to_json(const nomad_lite::Job& job) {
  json env = json::object();
  for (const auto& [key, value] : job.env()) env[key] = value;
  return json{
      {"id", job.id()},
      {"command", job.command()},
      {"status", job_status_name(job.status())},
      {"reason", string_or_null(job.reason())},
      {"pending_reason", string_or_null(job.pending_reason())},
      {"exit_code", job.has_exit_code() ? json(job.exit_code()) : json(nullptr)},
      {"node_id", job.node_id() == 0 ? json(nullptr) : json(job.node_id())},
      {"attempt", job.attempt()},
      {"created_at", timestamp_or_null(job.created_at_ms())},
      {"started_at", timestamp_or_null(job.started_at_ms())},
      {"finished_at", timestamp_or_null(job.finished_at_ms())},
      {"timeout", job.timeout_ms() == 0
                      ? json(nullptr)
                      : json(format_duration(Millis(static_cast<int64_t>(job.timeout_ms()))))},
      {"retries", job.retries()},
      {"env", std::move(env)},
  };
}

nlohmann::json cluster_to_json(const nomad_lite::GetClusterStatusResponse& status) {
  json nodes = json::array();
  for (const auto& node : status.nodes()) {
    nodes.push_back(json{
        {"id", node.id()},
        {"address", node.address()},
        {"role", node.role()},
        {"alive", node.alive()},
        {"match_index", node.match_index()},
        {"last_contact_ms",
         node.last_contact_ms() < 0 ? json(nullptr) : json(node.last_contact_ms())},
    });
  }
  bool leader_known = status.leader_id() != 0;
  return json{
      {"node_id", status.node_id()},
      {"role", status.role()},
      {"leader_id", leader_known ? json(status.leader_id()) : json(nullptr)},
      {"leader_address", leader_known ? string_or_null(status.leader_address()) : json(nullptr)},
      {"term", status.term()},
      {"commit_index", status.commit_index()},
      {"applied_index", status.applied_index()},
      {"nodes", std::move(nodes)},
  };
}

}  // namespace nomad::api
