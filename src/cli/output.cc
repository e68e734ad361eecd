#include "cli/output.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>

#include "api/json.h"
#include "cli/table.h"
#include "common/byte_size.h"
#include "common/duration.h"
#include "jobs/node_scheduling.h"
#include "jobs/resources.h"

namespace nomad::cli {
namespace {

constexpr size_t kCommandWidth = 50;
constexpr size_t kErrorWidth = 60;

// JSON text even when a command or an output tail is not valid UTF-8 (U+FFFD instead).
std::string dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string timestamp_or_dash(int64_t unix_ms) {
  return unix_ms == 0 ? "-" : api::format_timestamp(unix_ms);
}

std::string when(int64_t unix_ms, int64_t now_ms) {
  return api::format_timestamp(unix_ms) + " (" + format_age(now_ms - unix_ms) + " ago)";
}

std::string status_text(const nomad_lite::Job& job) {
  std::string text(api::job_status_name(job.status()));
  if (!job.reason().empty()) text += " (" + job.reason() + ")";
  return text;
}

void print_job_detail(std::ostream& out, const nomad_lite::Job& job, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ID", job.id()});
  rows.push_back({"Command", job.command()});
  rows.push_back({"Status", status_text(job)});
  if (!job.error().empty()) rows.push_back({"Error", job.error()});
  bool pending = job.status() == nomad_lite::JOB_STATUS_PENDING;
  if (pending && !job.pending_reason().empty()) rows.push_back({"Waiting", job.pending_reason()});
  if (pending && job.not_before_ms() > now_ms) {
    rows.push_back({"Retry at", api::format_timestamp(job.not_before_ms()) + " (in " +
                                    format_age(job.not_before_ms() - now_ms) + ")"});
  }
  if (job.priority() != 0) rows.push_back({"Priority", std::to_string(job.priority())});
  if (job.resources().cpu() > 0) {
    rows.push_back({"CPU", jobs::format_cores(jobs::to_millicores(job.resources().cpu()))});
  }
  if (job.resources().memory_bytes() > 0) {
    rows.push_back({"Memory", format_byte_size(job.resources().memory_bytes())});
  }
  for (const auto& c : job.constraints()) rows.push_back({"Constraint", c});
  if (job.has_exit_code()) rows.push_back({"Exit code", std::to_string(job.exit_code())});
  if (job.signal() != 0) rows.push_back({"Signal", exit_text(false, 0, job.signal())});
  if (job.node_id() != 0) rows.push_back({"Node", std::to_string(job.node_id())});
  if (job.attempt() != 0) rows.push_back({"Attempt", std::to_string(job.attempt())});
  if (job.retries() != 0) rows.push_back({"Retries", std::to_string(job.retries())});
  if (job.on_disconnect() == nomad_lite::ON_DISCONNECT_KEEP_RUNNING) {
    rows.push_back({"On disconnect", std::string(api::on_disconnect_name(job.on_disconnect()))});
  }
  if (job.timeout_ms() != 0) {
    rows.push_back({"Timeout", format_duration(Millis(static_cast<int64_t>(job.timeout_ms())))});
  }
  std::vector<std::pair<std::string, std::string>> env(job.env().begin(), job.env().end());
  std::sort(env.begin(), env.end());
  for (const auto& [key, value] : env) rows.push_back({"Env", key + "=" + value});
  if (!job.periodic_id().empty()) {
    rows.push_back(
        {"Periodic",
         job.periodic_id() + (job.tick_ms() != 0 ? ", tick " + api::format_timestamp(job.tick_ms())
                                                 : ", run now")});
  }
  if (job.created_at_ms() != 0) rows.push_back({"Created", when(job.created_at_ms(), now_ms)});
  if (job.started_at_ms() != 0) rows.push_back({"Started", when(job.started_at_ms(), now_ms)});
  if (job.finished_at_ms() != 0) {
    rows.push_back({"Finished", when(job.finished_at_ms(), now_ms)});
  }
  out << render_table(rows);
  if (job.attempts().empty()) return;
  // Usage columns once any attempt was measured (its node reported it when it ended).
  const bool usage = std::any_of(job.attempts().begin(), job.attempts().end(), [](const auto& a) {
    return a.peak_memory_bytes() != 0 || a.cpu_time_ms() != 0;
  });
  std::vector<std::vector<std::string>> attempts = {
      {"#", "NODE", "STATUS", "REASON", "EXIT", "STARTED", "FINISHED", "ERROR"}};
  if (usage) attempts[0].insert(attempts[0].end() - 1, {"PEAK MEM", "CPU"});
  for (const auto& attempt : job.attempts()) {
    attempts.push_back({
        std::to_string(attempt.number()),
        attempt.node_id() != 0 ? std::to_string(attempt.node_id()) : "-",
        std::string(api::job_status_name(attempt.status())),
        attempt.reason().empty() ? "-" : attempt.reason(),
        exit_text(attempt.has_exit_code(), attempt.exit_code(), attempt.signal()),
        timestamp_or_dash(attempt.started_at_ms()),
        timestamp_or_dash(attempt.finished_at_ms()),
        truncate(attempt.error(), kErrorWidth),
    });
    if (usage) {
      const bool measured = attempt.peak_memory_bytes() != 0 || attempt.cpu_time_ms() != 0;
      attempts.back().insert(attempts.back().end() - 1,
                             {measured ? format_bytes(attempt.peak_memory_bytes()) : "-",
                              measured ? format_cpu_time(attempt.cpu_time_ms()) : "-"});
    }
  }
  out << "\nAttempts:\n" << render_table(attempts);
}

// "0.5/2": cores asked for by the attempts placed there, of what its worker offers.
std::string cpu_column(const nomad_lite::NodeStatus& node) {
  if (!node.has_capacity()) return "-";
  char text[64];
  std::snprintf(text, sizeof text, "%g/%g", node.reserved().cpu(), node.capacity().cpu());
  return text;
}

std::string memory_column(const nomad_lite::NodeStatus& node) {
  if (!node.has_capacity()) return "-";
  return format_byte_size(node.reserved().memory_bytes()) + "/" +
         format_byte_size(node.capacity().memory_bytes());
}

// "gpu=true,zone=eu-1" in key order; labels are checked at the node's start (printable, no
// spaces), so they cannot break the table.
std::string labels_column(const nomad_lite::NodeStatus& node) {
  std::map<std::string, std::string> sorted(node.capacity().labels().begin(),
                                            node.capacity().labels().end());
  std::string out;
  for (const auto& [key, value] : sorted) out += (out.empty() ? "" : ",") + key + "=" + value;
  return out.empty() ? "-" : out;
}

}  // namespace

std::string exit_text(bool has_exit_code, int32_t exit_code, int32_t signal) {
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);  // "KILL"; null for numbers with no name
    return name ? "SIG" + std::string(name) + " (" + std::to_string(signal) + ")"
                : "signal " + std::to_string(signal);
  }
  return has_exit_code ? std::to_string(exit_code) : "-";
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string format_cpu_time(uint64_t ms) {
  if (ms >= 60'000) return format_duration(Millis(static_cast<int64_t>(ms)));
  char text[32];
  std::snprintf(text, sizeof text, "%.2fs", static_cast<double>(ms) / 1000);
  return text;
}

std::string format_age(int64_t elapsed_ms) {
  int64_t seconds = std::max<int64_t>(elapsed_ms, 0) / 1000;
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

std::vector<std::string> short_ids(const std::vector<std::string>& ids, size_t min_length) {
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  auto common_prefix = [](const std::string& a, const std::string& b) {
    return static_cast<size_t>(
        std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()), b.begin()).first -
        a.begin());
  };
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    auto at = std::lower_bound(sorted.begin(), sorted.end(), id);
    size_t length = min_length;
    if (at != sorted.begin()) length = std::max(length, common_prefix(id, *(at - 1)) + 1);
    // Skip over exact duplicates of `id` itself: they cannot be told apart anyway.
    auto next = std::upper_bound(at, sorted.end(), id);
    if (next != sorted.end()) length = std::max(length, common_prefix(id, *next) + 1);
    out.push_back(id.substr(0, std::min(length, id.size())));
  }
  return out;
}

void print_job(std::ostream& out, const nomad_lite::Job& job, OutputFormat format, int64_t now_ms,
               bool with_output) {
  if (format == OutputFormat::kJson) {
    out << dump(api::job_to_json(job,
                                 with_output ? api::JobJson::kWithOutput : api::JobJson::kSummary))
        << "\n";
  } else {
    print_job_detail(out, job, now_ms);
  }
}

void print_jobs(std::ostream& out, const std::vector<nomad_lite::Job>& jobs, OutputFormat format,
                int64_t now_ms) {
  if (format == OutputFormat::kJson) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& job : jobs) list.push_back(api::job_to_json(job));
    out << dump(nlohmann::json{{"jobs", std::move(list)}}) << "\n";
    return;
  }
  if (jobs.empty()) {
    out << "No jobs.\n";
    return;
  }
  std::vector<std::string> ids;
  for (const auto& job : jobs) ids.push_back(job.id());
  std::vector<std::string> shown = short_ids(ids);
  std::vector<std::vector<std::string>> rows = {{"ID", "STATUS", "EXIT", "NODE", "AGE", "COMMAND"}};
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& job = jobs[i];
    rows.push_back({
        shown[i],
        status_text(job),
        exit_text(job.has_exit_code(), job.exit_code(), job.signal()),
        job.node_id() != 0 ? std::to_string(job.node_id()) : "-",
        job.created_at_ms() != 0 ? format_age(now_ms - job.created_at_ms()) : "-",
        truncate(job.command(), kCommandWidth),
    });
  }
  out << render_table(rows);
}

void print_cluster(std::ostream& out, const nomad_lite::GetClusterStatusResponse& status,
                   OutputFormat format) {
  if (format == OutputFormat::kJson) {
    out << dump(api::cluster_to_json(status)) << "\n";
    return;
  }
  if (status.leader_id() != 0) {
    out << "Leader:  node " << status.leader_id();
    if (!status.leader_address().empty()) out << " (" << status.leader_address() << ")";
    out << ", term " << status.term() << "\n";
  } else {
    out << "Leader:  none known, term " << status.term() << "\n";
  }
  out << "Answered by node " << status.node_id() << " (" << status.role() << "): commit index "
      << status.commit_index() << ", applied index " << status.applied_index() << "\n\n";
  std::vector<std::vector<std::string>> rows = {{"", "ID", "ADDRESS", "ROLE", "ALIVE", "MATCH",
                                                 "LAST CONTACT", "JOBS", "SCHEDULING", "SLOTS",
                                                 "CPU USED/TOTAL", "MEMORY USED/TOTAL", "LABELS"}};
  bool match_known = status.role() == "leader";
  for (const auto& node : status.nodes()) {
    bool self = node.id() == status.node_id();
    rows.push_back({
        node.id() == status.leader_id() ? "*" : "",
        std::to_string(node.id()),
        node.address(),
        node.role(),
        // Only the leader hears agents' reports: a follower cannot say.
        node.agent() && !match_known ? "-"
        : node.alive()               ? "yes"
                                     : "no",
        match_known && !node.agent() ? std::to_string(node.match_index()) : "-",
        self || node.last_contact_ms() < 0 ? "-" : format_duration(Millis(node.last_contact_ms())),
        std::to_string(node.running_jobs()),
        jobs::scheduling_state(node.scheduling()),
        std::to_string(node.slots()),
        cpu_column(node),
        memory_column(node),
        labels_column(node),
    });
  }
  out << render_table(rows) << "(* leader";
  bool agents = false;
  for (const auto& node : status.nodes()) agents |= node.agent();
  if (agents) out << "; agent: a worker-only agent, alive as the leader sees it";
  out << ")\n";
}

}  // namespace nomad::cli
