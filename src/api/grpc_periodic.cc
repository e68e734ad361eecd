// The periodic-job methods over gRPC (README "Periodic jobs"): CreatePeriodicJob and
// ControlPeriodicJob (submit role), GetPeriodicJob and ListPeriodicJobs (read role).
// Registered as raw callback methods, as the other calls.

#include <grpcpp/grpcpp.h>

#include "api/grpc_service.h"

namespace nomad::api {
namespace {

using RawHandler = grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>;

void finish_periodic_call(grpc::CallbackServerContext* context, UnaryCall* reactor,
                          const Error& error) {
  if (error.code == Code::kNotLeader) {
    context->AddTrailingMetadata("leader-id", std::to_string(error.leader_id));
    context->AddTrailingMetadata("leader-addr", error.leader_address);
  }
  reactor->reply(error.code == Code::kOk ? grpc::Status::OK : to_grpc_status(error));
}

}  // namespace

void GrpcSchedulerService::register_periodic_methods() {
  auto index = [](const char* name) {
    return method_index<nomad_lite::CreatePeriodicJobRequest>("SchedulerService", name);
  };
  MarkMethodRawCallback(
      index("CreatePeriodicJob"),
      new RawHandler([this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                            grpc::ByteBuffer* response) {
        return decode_then<nomad_lite::CreatePeriodicJobRequest, nomad_lite::PeriodicJobResponse>(
            request, response, [this, context](auto* call) {
              if (refused(context, call, Role::kSubmit, call->request)) return;
              service_.create_periodic(
                  call->request, [context, call](Outcome<nomad_lite::PeriodicJobResponse> out) {
                    if (out.ok()) call->response = std::move(out.value);
                    finish_periodic_call(context, call, out.error);
                  });
            });
      }));
  MarkMethodRawCallback(
      index("ControlPeriodicJob"),
      new RawHandler([this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                            grpc::ByteBuffer* response) {
        return decode_then<nomad_lite::ControlPeriodicJobRequest, nomad_lite::PeriodicJobResponse>(
            request, response, [this, context](auto* call) {
              if (refused(context, call, Role::kSubmit, call->request)) return;
              service_.control_periodic(
                  call->request, [context, call](Outcome<nomad_lite::PeriodicJobResponse> out) {
                    if (out.ok()) call->response = std::move(out.value);
                    finish_periodic_call(context, call, out.error);
                  });
            });
      }));
  MarkMethodRawCallback(
      index("GetPeriodicJob"),
      new RawHandler([this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                            grpc::ByteBuffer* response) {
        return decode_then<nomad_lite::GetPeriodicJobRequest, nomad_lite::PeriodicJobResponse>(
            request, response, [this, context](auto* call) {
              if (refused(context, call, Role::kRead, call->request)) return;
              service_.read_periodic(call->request,
                                     [context, call](Outcome<nomad_lite::PeriodicJobResponse> out) {
                                       if (out.ok()) call->response = std::move(out.value);
                                       finish_periodic_call(context, call, out.error);
                                     });
            });
      }));
  MarkMethodRawCallback(
      index("ListPeriodicJobs"),
      new RawHandler([this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                            grpc::ByteBuffer* response) {
        return decode_then<nomad_lite::ListPeriodicJobsRequest,
                           nomad_lite::ListPeriodicJobsResponse>(
            request, response, [this, context](auto* call) {
              if (refused(context, call, Role::kRead, call->request)) return;
              service_.read_periodic_list(
                  call->request,
                  [context, call](Outcome<nomad_lite::ListPeriodicJobsResponse> out) {
                    if (out.ok()) call->response = std::move(out.value);
                    finish_periodic_call(context, call, out.error);
                  });
            });
      }));
}

}  // namespace nomad::api
