#include "cli/job_lookup.h"

namespace nomad::cli {

grpc::Status list_all(Client& client, nomad_lite::ListJobsRequest request, uint32_t limit,
                      std::vector<nomad_lite::Job>* jobs) {
  jobs->clear();
  while (true) {
    if (limit != 0) request.set_limit(limit - static_cast<uint32_t>(jobs->size()));
    nomad_lite::ListJobsResponse response;
    grpc::Status status = client.list_jobs(request, &response);
    if (!status.ok()) return status;
    for (auto& job : *response.mutable_jobs()) {
      if (limit != 0 && jobs->size() >= limit) break;
      jobs->push_back(std::move(job));
    }
    if (response.next_page_token().empty() || (limit != 0 && jobs->size() >= limit)) {
      return grpc::Status::OK;
    }
    request.set_page_token(response.next_page_token());
  }
}

grpc::Status resolve_prefix(Client& client, const std::string& prefix, std::string* id) {
  std::vector<nomad_lite::Job> jobs;
  if (grpc::Status status = list_all(client, {}, 0, &jobs); !status.ok()) return status;
  std::vector<std::string> matches;
  for (const auto& job : jobs) {
    if (job.id().rfind(prefix, 0) == 0) matches.push_back(job.id());
  }
  if (matches.empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no job '" + prefix + "'");
  }
  if (matches.size() > 1) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "'" + prefix + "' is the start of " +
                                                                std::to_string(matches.size()) +
                                                                " job ids; give more of it");
  }
  *id = matches.front();
  return grpc::Status::OK;
}

grpc::Status find_job(Client& client, const std::string& id, nomad_lite::Job* job) {
  nomad_lite::GetJobStatusResponse response;
  grpc::Status status = with_job_id(client, id, [&](const std::string& full_id) {
    nomad_lite::GetJobStatusRequest request;
    request.set_job_id(full_id);
    return client.get_job_status(request, &response);
  });
  if (status.ok()) *job = std::move(*response.mutable_job());
  return status;
}

}  // namespace nomad::cli
