#include "cli/output.h"

#include <algorithm>

#include "api/json.h"
#include "cli/table.h"
#include "common/duration.h"

namespace nomad::cli {
namespace {

constexpr size_t kCommandWidth = 50;

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
  if (!job.pending_reason().empty()) rows.push_back({"Waiting", job.pending_reason()});
  if (job.has_exit_code()) rows.push_back({"Exit code", std::to_string(job.exit_code())});
  if (job.node_id() != 0) rows.push_back({"Node", std::to_string(job.node_id())});
  if (job.attempt() != 0) rows.push_back({"Attempt", std::to_string(job.attempt())});
  if (job.retries() != 0) rows.push_back({"Retries", std::to_string(job.retries())});
  if (job.timeout_ms() != 0) {
    rows.push_back({"Timeout", format_duration(Millis(static_cast<int64_t>(job.timeout_ms())))});
  }
  std::vector<std::pair<std::string, std::string>> env(job.env().begin(), job.env().end());
  std::sort(env.begin(), env.end());
  for (const auto& [key, value] : env) rows.push_back({"Env", key + "=" + value});
  if (job.created_at_ms() != 0) rows.push_back({"Created", when(job.created_at_ms(), now_ms)});
  if (job.started_at_ms() != 0) rows.push_back({"Started", when(job.started_at_ms(), now_ms)});
  if (job.finished_at_ms() != 0) {
    rows.push_back({"Finished", when(job.finished_at_ms(), now_ms)});
  }
  out << render_table(rows);
}

}  // namespace

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

void print_job(std::ostream& out, const nomad_lite::Job& job, OutputFormat format, int64_t now_ms) {
  if (format == OutputFormat::kJson) {
    out << api::job_to_json(job).dump(2) << "\n";
  } else {
    print_job_detail(out, job, now_ms);
  }
}

void print_jobs(std::ostream& out, const std::vector<nomad_lite::Job>& jobs, OutputFormat format,
                int64_t now_ms) {
  if (format == OutputFormat::kJson) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& job : jobs) list.push_back(api::job_to_json(job));
    out << nlohmann::json{{"jobs", std::move(list)}}.dump(2) << "\n";
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
        job.has_exit_code() ? std::to_string(job.exit_code()) : "-",
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
    out << api::cluster_to_json(status).dump(2) << "\n";
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
  std::vector<std::vector<std::string>> rows = {
      {"", "ID", "ADDRESS", "ROLE", "ALIVE", "MATCH", "LAST CONTACT"}};
  bool match_known = status.role() == "leader";
  for (const auto& node : status.nodes()) {
    bool self = node.id() == status.node_id();
    rows.push_back({
        node.id() == status.leader_id() ? "*" : "",
        std::to_string(node.id()),
        node.address(),
        node.role(),
        node.alive() ? "yes" : "no",
        match_known ? std::to_string(node.match_index()) : "-",
        self || node.last_contact_ms() < 0 ? "-" : format_duration(Millis(node.last_contact_ms())),
    });
  }
  out << render_table(rows) << "(* leader)\n";
}

}  // namespace nomad::cli
