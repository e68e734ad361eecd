#include "cli/job_logs.h"

#include "cli/job_lookup.h"

namespace nomad::cli {
namespace {

// The node that ran attempt `number` (0: the latest) as far as the job says; 0 if unknown.
uint64_t attempt_node(const nomad_lite::Job& job, uint32_t number) {
  if (number == 0) {
    if (!job.attempts().empty()) return job.attempts().rbegin()->node_id();
    return job.node_id();
  }
  for (const auto& attempt : job.attempts()) {
    if (attempt.number() == number) return attempt.node_id();
  }
  return 0;
}

}  // namespace

std::string tail_only_note(uint64_t node_id) {
  std::string node = node_id == 0 ? "the node" : "node " + std::to_string(node_id);
  return "note: " + node +
         " that ran this attempt is unreachable; showing the last 64 KiB kept in the cluster";
}

int print_job_logs(Client& client, const std::string& id, const LogsOptions& options,
                   std::ostream& out, std::ostream& err) {
  nomad_lite::Job job;
  grpc::Status status = find_job(client, id, &job);
  if (status.ok()) {
    nomad_lite::JobLogsRequest request;
    request.set_job_id(job.id());
    request.set_stderr(options.use_stderr);
    request.set_follow(options.follow);
    request.set_attempt(options.attempt);
    bool noted_tail = false, noted_truncated = false;
    status = client.stream_job_logs(request, [&](const nomad_lite::LogChunk& chunk) {
      if (chunk.tail_only() && !noted_tail) {
        noted_tail = true;
        err << tail_only_note(attempt_node(job, options.attempt)) << "\n";
        err.flush();
      }
      if (chunk.truncated() && !noted_truncated) {
        noted_truncated = true;
        err << "note: the output reached its size limit and was cut\n";
        err.flush();
      }
      out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
      out.flush();
    });
  }
  if (!status.ok()) {
    out.flush();
    err << "nomad-lite: job logs: " << describe(status) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace nomad::cli
