#include "api/json.h"

#include <ctime>

#include "common/duration.h"
#include "jobs/job_store.h"
#include "jobs/node_scheduling.h"

namespace nomad::api {
namespace {

using nlohmann::json;

json string_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

json timestamp_or_null(int64_t unix_ms) {
  return unix_ms == 0 ? json(nullptr) : json(format_timestamp(unix_ms));
}

json signal_or_null(int32_t signal) { return signal == 0 ? json(nullptr) : json(signal); }

}  // namespace

std::string_view job_status_name(nomad_lite::JobStatus status) {
  return jobs::status_name(status);  // one table of the names: the job store's
}

std::optional<nomad_lite::JobStatus> parse_job_status(std::string_view name) {
  if (name == "pending") return nomad_lite::JOB_STATUS_PENDING;
  if (name == "running") return nomad_lite::JOB_STATUS_RUNNING;
  if (name == "completed") return nomad_lite::JOB_STATUS_COMPLETED;
  if (name == "failed") return nomad_lite::JOB_STATUS_FAILED;
  if (name == "cancelled" || name == "canceled") return nomad_lite::JOB_STATUS_CANCELLED;
  return std::nullopt;
}

std::string_view on_disconnect_name(nomad_lite::OnDisconnect value) {
  return value == nomad_lite::ON_DISCONNECT_KEEP_RUNNING ? "keep-running" : "stop";
}

std::optional<nomad_lite::OnDisconnect> parse_on_disconnect(std::string_view name) {
  if (name == "stop") return nomad_lite::ON_DISCONNECT_STOP;
  if (name == "keep-running") return nomad_lite::ON_DISCONNECT_KEEP_RUNNING;
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

std::string valid_utf8(std::string_view bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    auto lead = static_cast<unsigned char>(bytes[i]);
    if (lead < 0x80) {
      out += static_cast<char>(lead);
      ++i;
      continue;
    }
    size_t length = (lead & 0xE0) == 0xC0   ? 2
                    : (lead & 0xF0) == 0xE0 ? 3
                    : (lead & 0xF8) == 0xF0 ? 4
                                            : 0;
    uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    bool ok = length != 0 && i + length <= bytes.size();
    uint32_t code_point = lead & (0x7F >> length);
    for (size_t k = 1; ok && k < length; ++k) {
      auto next = static_cast<unsigned char>(bytes[i + k]);
      ok = (next & 0xC0) == 0x80;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
    ok = ok && code_point >= smallest && code_point <= 0x10FFFF &&
         !(code_point >= 0xD800 && code_point <= 0xDFFF);
    if (ok) {
      out.append(bytes.substr(i, length));
      i += length;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
}

nlohmann::json attempt_to_json(const nomad_lite::Attempt& attempt) {
  return json{
      {"number", attempt.number()},
      {"node_id", attempt.node_id() == 0 ? json(nullptr) : json(attempt.node_id())},
      {"status", job_status_name(attempt.status())},
      {"reason", string_or_null(attempt.reason())},
      {"exit_code", attempt.has_exit_code() ? json(attempt.exit_code()) : json(nullptr)},
      {"signal", signal_or_null(attempt.signal())},
      {"assigned_at", timestamp_or_null(attempt.assigned_at_ms())},
      {"started_at", timestamp_or_null(attempt.started_at_ms())},
      {"finished_at", timestamp_or_null(attempt.finished_at_ms())},
      {"error", string_or_null(attempt.error())},
      // Measured by its node when it ended (its cgroup, else the kernel's rusage); null: not.
      {"peak_memory_bytes",
       attempt.peak_memory_bytes() == 0 ? json(nullptr) : json(attempt.peak_memory_bytes())},
      {"cpu_time_ms", attempt.cpu_time_ms() == 0 && attempt.peak_memory_bytes() == 0
                          ? json(nullptr)
                          : json(attempt.cpu_time_ms())},
  };
}

nlohmann::json job_to_json(const nomad_lite::Job& job, JobJson detail) {
  json env = json::object();
  for (const auto& [key, value] : job.env()) env[key] = value;
  json attempts = json::array();
  for (const auto& attempt : job.attempts()) attempts.push_back(attempt_to_json(attempt));
  json j{
      {"id", job.id()},
      {"command", job.command()},
      {"status", job_status_name(job.status())},
      {"reason", string_or_null(job.reason())},
      {"pending_reason", string_or_null(job.pending_reason())},
      {"error", string_or_null(job.error())},
      {"exit_code", job.has_exit_code() ? json(job.exit_code()) : json(nullptr)},
      {"signal", signal_or_null(job.signal())},
      {"node_id", job.node_id() == 0 ? json(nullptr) : json(job.node_id())},
      {"attempt", job.attempt()},
      {"priority", job.priority()},
      {"cpu", job.resources().cpu() > 0 ? json(job.resources().cpu()) : json(nullptr)},
      {"memory",
       job.resources().memory_bytes() > 0 ? json(job.resources().memory_bytes()) : json(nullptr)},
      {"constraints",
       json(std::vector<std::string>(job.constraints().begin(), job.constraints().end()))},
      {"created_at", timestamp_or_null(job.created_at_ms())},
      {"started_at", timestamp_or_null(job.started_at_ms())},
      {"finished_at", timestamp_or_null(job.finished_at_ms())},
      {"not_before", timestamp_or_null(job.not_before_ms())},
      {"timeout", job.timeout_ms() == 0
                      ? json(nullptr)
                      : json(format_duration(Millis(static_cast<int64_t>(job.timeout_ms()))))},
      {"retries", job.retries()},
      {"lost_retries", job.lost_retries()},
      {"on_disconnect", on_disconnect_name(job.on_disconnect())},
      {"env", std::move(env)},
      {"attempts", std::move(attempts)},
  };
  // A periodic job's child: its periodic job and its tick (null for a run-now child).
  j["periodic_id"] = string_or_null(job.periodic_id());
  j["tick"] = timestamp_or_null(job.tick_ms());
  j["after"] = json(std::vector<std::string>(job.after().begin(), job.after().end()));
  if (detail == JobJson::kWithOutput) {
    j["stdout_tail"] = valid_utf8(job.stdout_tail());
    j["stderr_tail"] = valid_utf8(job.stderr_tail());
    j["stdout_truncated"] = job.stdout_truncated();
    j["stderr_truncated"] = job.stderr_truncated();
  }
  return j;
}

nlohmann::json scheduling_to_json(const nomad_lite::NodeScheduling& node) {
  auto time_or_null = [](int64_t ms) { return ms != 0 ? json(ms) : json(nullptr); };
  return json{
      {"node_id", node.node_id()},
      {"state", jobs::scheduling_state(node)},
      {"eligible", !node.ineligible()},
      {"draining", node.draining()},
      {"drain_deadline_ms", time_or_null(node.drain_deadline_ms())},
      {"drain_started_ms", time_or_null(node.drain_started_ms())},
      {"drained_at_ms", time_or_null(node.drained_at_ms())},
  };
}

static nlohmann::json labels_to_json(
    const google::protobuf::Map<std::string, std::string>& labels) {
  json out = json::object();
  for (const auto& [key, value] : labels) out[key] = value;
  return out;
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
        {"scheduling", scheduling_to_json(node.scheduling())},
        {"running_jobs", node.running_jobs()},
        {"agent", node.agent()},
        {"slots", node.slots()},
        {"name", string_or_null(node.capacity().name())},
        {"cpu", node.capacity().cpu()},
        {"memory", node.capacity().memory_bytes()},
        {"labels", labels_to_json(node.capacity().labels())},
        {"cpu_used", node.reserved().cpu()},
        {"memory_used", node.reserved().memory_bytes()},
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
      {"security",
       {{"tls", status.security().tls()},
        {"tokens", status.security().tokens()},
        {"insecure", status.security().insecure()}}},
  };
}

}  // namespace nomad::api
