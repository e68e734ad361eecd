#include "server/agent_log_service.h"

namespace nomad::server {

api::LocalOutput AgentOutputPort::read_local_output(const std::string& job_id, uint32_t attempt,
                                                    bool from_stderr, uint64_t offset, size_t max,
                                                    std::chrono::milliseconds wait_for) {
  worker::Worker* w = worker_.load();
  if (!w) return {Status::error("this agent has not registered yet"), {}, false, false};
  auto r = w->executor().read_output({job_id, attempt}, from_stderr, offset, max, wait_for);
  return {std::move(r.status), std::move(r.data), r.finished, r.truncated};
}

grpc::Status AgentLogService::StreamLogs(grpc::ServerContext* context,
                                         const nomad_lite::JobLogsRequest* request,
                                         grpc::ServerWriter<nomad_lite::LogChunk>* writer) {
  auto caller = gate_.admit(*context);
  if (!caller.ok()) return api::to_grpc_status(caller.error);
  return api::to_grpc_status(service_.stream_local_logs(
      *request, [writer](const nomad_lite::LogChunk& c) { return writer->Write(c); },
      [context] { return context->IsCancelled(); }));
}

}  // namespace nomad::server
