#include "cli/commands.h"

#include <chrono>
#include <random>
#include <vector>

#include "cli/output.h"

namespace nomad::cli {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int fail(std::ostream& err, const std::string& what, const grpc::Status& status) {
  err << "nomad-lite: " << what << ": " << describe(status) << "\n";
  return 1;
}

// Every job matching `request`, following page tokens; at most `limit` (0: all).
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

// The full id of the one job whose id starts with `prefix` (ids in tables are shortened).
// NOT_FOUND when none does, INVALID_ARGUMENT when several do.
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

int submit(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::SubmitJobRequest request;
  request.set_command(inv.submit.command);
  request.set_timeout_ms(static_cast<uint64_t>(inv.submit.timeout.count()));
  request.set_retries(inv.submit.retries);
  for (const auto& [key, value] : inv.submit.env) (*request.mutable_env())[key] = value;
  // A retried submission (after a lost answer or a leader change) must not create a
  // second job: the key makes it idempotent.
  request.set_idempotency_key(inv.submit.idempotency_key.empty() ? random_idempotency_key()
                                                                 : inv.submit.idempotency_key);
  nomad_lite::SubmitJobResponse response;
  grpc::Status status = client.submit_job(request, &response);
  if (!status.ok()) return fail(err, "job submit", status);
  print_job(out, response.job(), inv.client.output, now_ms());
  return 0;
}

int status(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::GetJobStatusResponse response;
  grpc::Status status = with_job_id(client, inv.job_id, [&](const std::string& id) {
    nomad_lite::GetJobStatusRequest request;
    request.set_job_id(id);
    return client.get_job_status(request, &response);
  });
  if (!status.ok()) return fail(err, "job status", status);
  print_job(out, response.job(), inv.client.output, now_ms());
  return 0;
}

int cancel(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::CancelJobResponse response;
  grpc::Status status = with_job_id(client, inv.job_id, [&](const std::string& id) {
    nomad_lite::CancelJobRequest request;
    request.set_job_id(id);
    return client.cancel_job(request, &response);
  });
  if (!status.ok()) return fail(err, "job cancel", status);
  print_job(out, response.job(), inv.client.output, now_ms());
  return 0;
}

int list(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::ListJobsRequest request;
  request.set_status(inv.list.status);
  std::vector<nomad_lite::Job> jobs;
  grpc::Status status = list_all(client, request, inv.list.limit, &jobs);
  if (!status.ok()) return fail(err, "job list", status);
  print_jobs(out, jobs, inv.client.output, now_ms());
  return 0;
}

int cluster(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::GetClusterStatusResponse response;
  grpc::Status status = client.get_cluster_status({}, &response);
  if (!status.ok()) return fail(err, "cluster status", status);
  print_cluster(out, response, inv.client.output);
  return 0;
}

}  // namespace

std::string random_idempotency_key() {
  // Straight from the OS's generator: a seeded PRNG would share its 32-bit seed's collisions.
  std::random_device device;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key;
  for (int word = 0; word < 4; ++word) {
    uint32_t bits = device();
    for (int i = 0; i < 8; ++i, bits >>= 4) key += kHex[bits & 0xF];
  }
  return key;
}

int run_client_command(const Invocation& invocation, Client& client, std::ostream& out,
                       std::ostream& err) {
  switch (invocation.command) {
    case Command::kJobSubmit:
      return submit(invocation, client, out, err);
    case Command::kJobStatus:
      return status(invocation, client, out, err);
    case Command::kJobCancel:
      return cancel(invocation, client, out, err);
    case Command::kJobList:
      return list(invocation, client, out, err);
    case Command::kClusterStatus:
      return cluster(invocation, client, out, err);
    default:
      err << "nomad-lite: not a client command\n";
      return 2;
  }
}

}  // namespace nomad::cli
