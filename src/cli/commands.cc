#include "cli/commands.h"

#include <chrono>
#include <optional>
#include <vector>

#include "api/json.h"
#include "cli/job_logs.h"
#include "cli/job_lookup.h"
#include "cli/job_wait.h"
#include "cli/member_commands.h"
#include "cli/node_commands.h"
#include "cli/output.h"
#include "cli/periodic_commands.h"
#include "common/random_id.h"
#include "common/unix_time.h"

namespace nomad::cli {
namespace {

int fail(std::ostream& err, const std::string& what, const grpc::Status& status) {
  err << "nomad-lite: " << what << ": " << describe(status) << "\n";
  return kExitError;
}

constexpr Millis kSubmitWait{1000};

int submit(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::SubmitJobRequest request;
  request.set_command(inv.submit.command);
  request.set_timeout_ms(static_cast<uint64_t>(inv.submit.timeout.count()));
  request.set_retries(inv.submit.retries);
  request.set_lost_retries(inv.submit.lost_retries);
  request.set_on_disconnect(inv.submit.on_disconnect);
  request.set_priority(inv.submit.priority);
  for (const auto& [key, value] : inv.submit.env) (*request.mutable_env())[key] = value;
  if (inv.submit.resources.cpu() > 0 || inv.submit.resources.memory_bytes() > 0) {
    *request.mutable_resources() = inv.submit.resources;
  }
  for (const auto& c : inv.submit.constraints) request.add_constraints(c);
  for (const auto& id : inv.submit.after) request.add_after(id);
  // A retried submission (after a lost answer or a leader change) must not create a
  // second job: the key makes it idempotent.
  request.set_idempotency_key(inv.submit.idempotency_key.empty() ? random_idempotency_key()
                                                                 : inv.submit.idempotency_key);
  // --wait: a quick job's whole wait is part of the submission call; a longer one's id is
  // printed after a second, then waited for with WaitJob.
  if (inv.submit.wait) request.set_wait_ms(static_cast<uint64_t>(kSubmitWait.count()));
  nomad_lite::SubmitJobResponse response;
  grpc::Status status = client.submit_job(request, &response);
  if (!status.ok()) {
    // The job as given can never be accepted (an unknown --after id, a command too long):
    // the usage code, as for a bad flag, rather than that of a failure worth retrying.
    int code = fail(err, "job submit", status);
    return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? kExitInvalid : code;
  }
  if (inv.submit.wait) {
    const nomad_lite::Job& job = response.job();
    if (job_is_final(job)) {
      print_job(out, job, inv.client.output, common::unix_now_ms());
      return job_exit_code(job).value_or(kExitError);
    }
    err << "note: job " << job.id() << " submitted; waiting for it to end\n";
    return wait_for_job(client, job.id(), std::nullopt, inv.client.output, "job submit", out, err);
  }
  if (inv.client.output == OutputFormat::kJson) {
    // The index the submission committed at: `--min-index` for reads of it on any node.
    nlohmann::json job = api::job_to_json(response.job());
    job["index"] = response.index();
    out << job.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  print_job(out, response.job(), inv.client.output, common::unix_now_ms());
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
  print_job(out, response.job(), inv.client.output, common::unix_now_ms(), /*with_output=*/true);
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
  print_job(out, response.job(), inv.client.output, common::unix_now_ms());
  return 0;
}

int wait_command(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (inv.wait.timeout.count() > 0) deadline = std::chrono::steady_clock::now() + inv.wait.timeout;
  return wait_for_job(client, inv.job_id, deadline, inv.client.output, "job wait", out, err);
}

int list(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::ListJobsRequest request;
  request.set_status(inv.list.status);
  std::vector<nomad_lite::Job> jobs;
  grpc::Status status = list_all(client, request, inv.list.limit, &jobs);
  if (!status.ok()) return fail(err, "job list", status);
  print_jobs(out, jobs, inv.client.output, common::unix_now_ms());
  return 0;
}

int transfer_leader(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::TransferLeadershipRequest request;
  request.set_to(inv.transfer_to);
  nomad_lite::TransferLeadershipResponse response;
  grpc::Status status = client.transfer_leadership(request, &response);
  if (!status.ok()) return fail(err, "cluster transfer-leader", status);
  if (inv.client.output == OutputFormat::kJson) {
    out << "{\"leader_id\":" << response.leader_id() << ",\"leader_address\":\""
        << response.leader_address() << "\",\"term\":" << response.term()
        << ",\"previous_leader_id\":" << response.previous_leader_id() << "}\n";
  } else {
    out << "leadership moved from node " << response.previous_leader_id() << " to node "
        << response.leader_id() << " at " << response.leader_address() << " (term "
        << response.term() << ")\n";
  }
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

std::string random_idempotency_key() { return common::random_hex(16); }

int run_client_command(const Invocation& invocation, Client& client, std::ostream& out,
                       std::ostream& err) {
  client.set_read_options(invocation.read.min_index, invocation.read.consistent);
  const Command c = invocation.command;
  if ((c == Command::kJobSubmit && invocation.submit.periodic()) ||
      (c == Command::kJobList && invocation.list.periodic) ||
      ((c == Command::kJobStatus || c == Command::kJobCancel) &&
       is_periodic_id(invocation.job_id)) ||
      c == Command::kJobPause || c == Command::kJobResume || c == Command::kJobRunNow) {
    return run_periodic_command(invocation, client, out, err);
  }
  switch (invocation.command) {
    case Command::kJobSubmit:
      return submit(invocation, client, out, err);
    case Command::kJobStatus:
      return status(invocation, client, out, err);
    case Command::kJobCancel:
      return cancel(invocation, client, out, err);
    case Command::kJobWait:
      return wait_command(invocation, client, out, err);
    case Command::kJobLogs:
      return print_job_logs(client, invocation.job_id, invocation.logs, out, err);
    case Command::kJobList:
      return list(invocation, client, out, err);
    case Command::kClusterStatus:
      return cluster(invocation, client, out, err);
    case Command::kClusterTransferLeader:
      return transfer_leader(invocation, client, out, err);
    case Command::kNodeDrain:
    case Command::kNodeEligibility:
      return run_node_command(invocation, client, out, err);
    case Command::kClusterMembers:
    case Command::kClusterAddServer:
    case Command::kClusterRemoveServer:
      return run_member_command(invocation, client, out, err);
    default:
      err << "nomad-lite: not a client command\n";
      return 2;
  }
}

}  // namespace nomad::cli
