#include "http/event_source.h"

#include "api/json.h"
#include "common/unix_time.h"

namespace nomad::http {

using nlohmann::json;

json ServiceEventSource::cluster() { return api::cluster_to_json(service_.cluster_status()); }

std::vector<std::pair<std::string, std::optional<json>>> ServiceEventSource::jobs(
    const std::vector<std::string>& ids) {
  std::vector<std::pair<std::string, std::optional<json>>> out;
  out.reserve(ids.size());
  for (auto& ref : service_.find_jobs(ids)) {
    std::optional<json> summary;
    if (ref.job) {
      summary = api::job_to_json(*ref.job, api::JobJson::kSummary);
      (*summary)["pending_reason"] = ref.pending_reason.empty() ? json() : json(ref.pending_reason);
    }
    out.emplace_back(std::move(ref.id), std::move(summary));
  }
  return out;
}

json ServiceEventSource::stats() {
  jobs::JobTotals totals = service_.job_totals();
  auto cluster = service_.cluster_status();
  json by_status = json::object();
  for (auto status : {nomad_lite::JOB_STATUS_PENDING, nomad_lite::JOB_STATUS_RUNNING,
                      nomad_lite::JOB_STATUS_COMPLETED, nomad_lite::JOB_STATUS_FAILED,
                      nomad_lite::JOB_STATUS_CANCELLED}) {
    by_status[std::string(api::job_status_name(status))] = totals.by_status[status];
  }
  return {{"at", common::unix_now_ms()},
          {"commit_index", cluster.commit_index()},
          {"applied_index", cluster.applied_index()},
          {"jobs_submitted", totals.submitted},
          {"jobs_finished", totals.finished},
          {"by_status", std::move(by_status)}};
}

}  // namespace nomad::http
