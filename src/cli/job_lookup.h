#pragma once

// Finding jobs by what people type: ids in tables are shortened, so every command that takes
// a job id also accepts a unique prefix of one.

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "cli/client.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::cli {

// Every job matching `request`, following page tokens; at most `limit` (0: all).
grpc::Status list_all(Client& client, nomad_lite::ListJobsRequest request, uint32_t limit,
                      std::vector<nomad_lite::Job>* jobs);

// The full id of the one job whose id starts with `prefix`. NOT_FOUND when none does,
// INVALID_ARGUMENT when several do.
grpc::Status resolve_prefix(Client& client, const std::string& prefix, std::string* id);

// Calls `rpc(id)`; when no job has exactly that id, retries with the one job the id is a
// prefix of.
template <typename Rpc>
grpc::Status with_job_id(Client& client, const std::string& id, Rpc rpc) {
  grpc::Status status = rpc(id);
  if (status.error_code() != grpc::StatusCode::NOT_FOUND) return status;
  std::string full_id;
  grpc::Status resolved = resolve_prefix(client, id, &full_id);
  if (resolved.error_code() == grpc::StatusCode::NOT_FOUND) return status;
  if (!resolved.ok()) return resolved;
  return rpc(full_id);
}

// The job with id `id`, or with the one id that starts with it.
grpc::Status find_job(Client& client, const std::string& id, nomad_lite::Job* job);

}  // namespace nomad::cli
