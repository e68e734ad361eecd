#include "api/grpc_service.h"

#include "api/peer_gate.h"
#include "transport/channel_args.h"
#include "transport/security.h"

namespace nomad::api {

grpc::StatusCode to_grpc_code(Code code) {
  switch (code) {
    case Code::kOk:
      return grpc::StatusCode::OK;
    case Code::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case Code::kNotLeader:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case Code::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kInternal:
      return grpc::StatusCode::INTERNAL;
    case Code::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case Code::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case Code::kAlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
  }
  return grpc::StatusCode::UNKNOWN;
}

namespace {

// Finishes a call with `error`; a follower's refusal carries who the leader is, so clients
// can retry there without parsing the message.
void finish(grpc::CallbackServerContext* context, UnaryCall* reactor, const Error& error) {
  if (error.code == Code::kOk) {
    reactor->reply(grpc::Status::OK);
    return;
  }
  if (error.code == Code::kNotLeader) {
    context->AddTrailingMetadata("leader-id", std::to_string(error.leader_id));
    context->AddTrailingMetadata("leader-addr", error.leader_address);
  }
  reactor->reply(to_grpc_status(error));
}

}  // namespace

Error GrpcSchedulerService::authorize(const grpc::ServerContextBase& context, Role role) const {
  if (!service_.authenticator().enabled()) return {};  // no metadata to look up
  return service_.authorize(transport::caller_authorization(context), role);
}

Error GrpcSchedulerService::admit(const grpc::ServerContextBase& context, Role role,
                                  const google::protobuf::Message& request) const {
  if (Error error = authorize(context, role); error.code != Code::kOk) return error;
  // The server takes messages up to the cluster's own limit (16 MiB); a client's request is
  // held to what the API needs.
  if (size_t bytes = request.ByteSizeLong(); bytes > transport::kMaxClientRequestBytes) {
    return {Code::kResourceExhausted,
            "the request is " + std::to_string(bytes) +
                " bytes; requests to this service are limited to " +
                std::to_string(transport::kMaxClientRequestBytes) +
                " bytes (a command of at most " + std::to_string(kMaxCommandBytes) +
                " bytes and environment of at most " + std::to_string(kMaxEnvBytes) + ")",
            0,
            {}};
  }
  return {};
}

bool GrpcSchedulerService::refused(grpc::CallbackServerContext* context, UnaryCall* reactor,
                                   Role role, const google::protobuf::Message& request) const {
  Error error = admit(*context, role, request);
  if (error.code == Code::kOk) return false;
  finish(context, reactor, error);
  return true;
}

void GrpcSchedulerService::submit_job(grpc::CallbackServerContext* context, UnaryCall* reactor,
                                      const nomad_lite::SubmitJobRequest* request,
                                      nomad_lite::SubmitJobResponse* response) {
  if (refused(context, reactor, Role::kSubmit, *request)) return;
  service_.submit_job(*request,
                      [context, reactor, response](Outcome<nomad_lite::SubmitJobResponse> out) {
                        if (out.ok()) *response = std::move(out.value);
                        finish(context, reactor, out.error);
                      });
}

void GrpcSchedulerService::cancel_job(grpc::CallbackServerContext* context, UnaryCall* reactor,
                                      const nomad_lite::CancelJobRequest* request,
                                      nomad_lite::CancelJobResponse* response) {
  if (refused(context, reactor, Role::kSubmit, *request)) return;
  service_.cancel_job(*request, [context, reactor, response](Outcome<nomad_lite::Job> out) {
    if (out.ok()) *response->mutable_job() = std::move(out.value);
    response->set_index(out.index);
    finish(context, reactor, out.error);
  });
}

void GrpcSchedulerService::get_job_status(grpc::CallbackServerContext* context, UnaryCall* reactor,
                                          const nomad_lite::GetJobStatusRequest* request,
                                          nomad_lite::GetJobStatusResponse* response) {
  if (refused(context, reactor, Role::kRead, *request)) return;
  service_.read_job(*request,
                    [context, reactor, response](Outcome<nomad_lite::GetJobStatusResponse> out) {
                      if (out.ok()) *response = std::move(out.value);
                      finish(context, reactor, out.error);
                    });
}

void GrpcSchedulerService::list_jobs(grpc::CallbackServerContext* context, UnaryCall* reactor,
                                     const nomad_lite::ListJobsRequest* request,
                                     nomad_lite::ListJobsResponse* response) {
  if (refused(context, reactor, Role::kRead, *request)) return;
  service_.read_list(*request,
                     [context, reactor, response](Outcome<nomad_lite::ListJobsResponse> out) {
                       if (out.ok()) *response = std::move(out.value);
                       finish(context, reactor, out.error);
                     });
}

void GrpcSchedulerService::transfer_leadership(grpc::CallbackServerContext* context,
                                               UnaryCall* reactor,
                                               const nomad_lite::TransferLeadershipRequest* request,
                                               nomad_lite::TransferLeadershipResponse* response) {
  if (refused(context, reactor, Role::kOperator, *request)) return;
  service_.transfer_leadership(
      *request, [context, reactor, response](Outcome<nomad_lite::TransferLeadershipResponse> out) {
        if (out.ok()) *response = std::move(out.value);
        finish(context, reactor, out.error);
      });
}

void GrpcSchedulerService::get_cluster_status(grpc::CallbackServerContext* context,
                                              UnaryCall* reactor,
                                              const nomad_lite::GetClusterStatusRequest* request,
                                              nomad_lite::GetClusterStatusResponse* response) {
  if (refused(context, reactor, Role::kRead, *request)) return;
  *response = service_.cluster_status();
  reactor->reply(grpc::Status::OK);
}

void GrpcSchedulerService::wait_job(grpc::CallbackServerContext* context, UnaryCall* reactor,
                                    const nomad_lite::WaitJobRequest* request,
                                    nomad_lite::WaitJobResponse* response) {
  if (refused(context, reactor, Role::kRead, *request)) return;
  service_.wait_job(*request,
                    [context, reactor, response](Outcome<nomad_lite::WaitJobResponse> out) {
                      if (out.ok()) *response = std::move(out.value);
                      finish(context, reactor, out.error);
                    });
}

void GrpcSchedulerService::drain_node(grpc::CallbackServerContext* context, UnaryCall* reactor,
                                      const nomad_lite::DrainNodeRequest* request,
                                      nomad_lite::NodeSchedulingResponse* response) {
  if (refused(context, reactor, Role::kOperator, *request)) return;
  service_.drain_node(
      *request, [context, reactor, response](Outcome<nomad_lite::NodeSchedulingResponse> out) {
        if (out.ok()) *response = std::move(out.value);
        finish(context, reactor, out.error);
      });
}

void GrpcSchedulerService::set_node_eligibility(
    grpc::CallbackServerContext* context, UnaryCall* reactor,
    const nomad_lite::SetNodeEligibilityRequest* request,
    nomad_lite::NodeSchedulingResponse* response) {
  if (refused(context, reactor, Role::kOperator, *request)) return;
  service_.set_node_eligibility(
      *request, [context, reactor, response](Outcome<nomad_lite::NodeSchedulingResponse> out) {
        if (out.ok()) *response = std::move(out.value);
        finish(context, reactor, out.error);
      });
}

grpc::Status GrpcSchedulerService::stream_job_logs(grpc::ServerContext* context,
                                                   RawRequestStream<nomad_lite::LogChunk>* stream) {
  nomad_lite::JobLogsRequest request;
  if (grpc::Status decoded = read_request(stream, &request); !decoded.ok()) return decoded;
  if (Error error = admit(*context, Role::kRead, request); error.code != Code::kOk) {
    return to_grpc_status(error);
  }
  return to_grpc_status(service_.stream_logs(
      request, [stream](const nomad_lite::LogChunk& c) { return stream->Write(c); },
      [context] { return context->IsCancelled(); }));
}

grpc::Status GrpcSchedulerService::save_snapshot(
    grpc::ServerContext* context, RawRequestStream<nomad_lite::SnapshotChunk>* stream) {
  nomad_lite::SaveSnapshotRequest request;
  if (grpc::Status decoded = read_request(stream, &request); !decoded.ok()) return decoded;
  if (Error error = admit(*context, Role::kOperator, request); error.code != Code::kOk) {
    return to_grpc_status(error);
  }
  auto file = service_.save_snapshot();
  if (!file.ok()) {
    if (file.error.code == Code::kNotLeader) {
      context->AddTrailingMetadata("leader-id", std::to_string(file.error.leader_id));
      context->AddTrailingMetadata("leader-addr", file.error.leader_address);
    }
    return to_grpc_status(file.error);
  }
  // Well under the clients' 4 MiB default message limit.
  constexpr size_t kChunkBytes = 1 << 20;
  const std::string& bytes = file.value;
  nomad_lite::SnapshotChunk chunk;
  chunk.set_total_bytes(bytes.size());
  for (size_t at = 0; at < bytes.size(); at += kChunkBytes) {
    chunk.set_data(bytes.substr(at, kChunkBytes));
    if (!stream->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* GrpcInternalService::Report(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request_bytes,
                                                      grpc::ByteBuffer* response_bytes) {
  // Only a node gets as far as the parser.
  auto caller = gate_.admit(*context);
  if (!caller.ok()) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(to_grpc_status(caller.error));
    return reactor;
  }
  return decode_then<nomad_lite::WorkerReport, nomad_lite::WorkerReportAck>(
      request_bytes, response_bytes, [this, caller = caller.value](auto* call) {
        if (grpc::Status refused = check_report_sender(caller, call->request); !refused.ok()) {
          call->reply(refused);
          return;
        }
        if (!reports_.is_leader()) {
          call->response.set_leader(false);
          call->reply(grpc::Status::OK);
          return;
        }
        // Answered by the node loop once processed: the ack is the worker's lease
        // (worker/lease.h).
        reports_.deliver(std::move(call->request), [call](const nomad_lite::WorkerReportAck& ack) {
          call->response = ack;
          call->reply(grpc::Status::OK);
        });
      });
}

grpc::Status GrpcInternalService::stream_logs(grpc::ServerContext* context,
                                              RawRequestStream<nomad_lite::LogChunk>* stream) {
  auto caller = gate_.admit(*context);
  if (!caller.ok()) return to_grpc_status(caller.error);
  nomad_lite::JobLogsRequest request;
  if (grpc::Status decoded = read_request(stream, &request); !decoded.ok()) return decoded;
  return to_grpc_status(service_.stream_local_logs(
      request, [stream](const nomad_lite::LogChunk& c) { return stream->Write(c); },
      [context] { return context->IsCancelled(); }));
}

}  // namespace nomad::api
