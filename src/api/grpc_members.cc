// The membership methods over gRPC: SchedulerService's ListMembers, AddServer and RemoveServer
// (read and operator roles) and InternalService's Join (nodes only, forwarded to the leader by
// a follower). Registered as raw callback methods, as the other calls: a request that does
// not decode gets INVALID_ARGUMENT.

#include <grpcpp/grpcpp.h>

#include <optional>
#include <thread>

#include "api/grpc_service.h"
#include "api/members.h"

namespace nomad::api {
namespace {

using RawHandler = grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>;

void finish_member_call(grpc::CallbackServerContext* context, UnaryCall* reactor,
                        const Error& error) {
  if (error.code == Code::kNotLeader) {
    context->AddTrailingMetadata("leader-id", std::to_string(error.leader_id));
    context->AddTrailingMetadata("leader-addr", error.leader_address);
  }
  reactor->reply(error.code == Code::kOk ? grpc::Status::OK : to_grpc_status(error));
}

// A forwarded Join names the node the joining node's certificate named at the member that
// forwarded it; the leader believes it only from a member (api::Members::join).
constexpr const char* kForwardedForHeader = "nomad-lite-forwarded-for";

std::optional<uint64_t> forwarded_for(const grpc::CallbackServerContext& context) {
  const auto& md = context.client_metadata();
  auto it = md.find(kForwardedForHeader);
  if (it == md.end()) return std::nullopt;
  std::string text(it->second.data(), it->second.size());
  if (text.empty() || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return 0;  // names no node: refused with TLS
  }
  return std::stoull(text);
}

// The leader's answer to a forwarded Join, as this node answers it: the leader's refusals keep
// their kind, anything else (no answer, a fault) is UNAVAILABLE so that the node retries.
Error join_error(const grpc::Status& status) {
  Error error;
  if (status.ok()) return error;
  error.message = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      error.code = Code::kInvalidArgument;
      break;
    case grpc::StatusCode::ALREADY_EXISTS:
      error.code = Code::kAlreadyExists;
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      error.code = Code::kPermissionDenied;
      break;
    case grpc::StatusCode::FAILED_PRECONDITION:
      error.code = Code::kFailedPrecondition;
      break;
    default:
      error.code = Code::kUnavailable;
  }
  return error;
}

}  // namespace

void GrpcSchedulerService::register_membership_methods() {
  auto index = [](const char* name) {
    return method_index<nomad_lite::ListMembersRequest>("SchedulerService", name);
  };
  MarkMethodRawCallback(
      index("ListMembers"),
      new RawHandler([this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                            grpc::ByteBuffer* response) {
        return decode_then<nomad_lite::ListMembersRequest, nomad_lite::ListMembersResponse>(
            request, response, [this, context](auto* call) {
              if (refused(context, call, Role::kRead, call->request)) return;
              auto out = service_.members().list();
              if (out.ok()) call->response = std::move(out.value);
              finish_member_call(context, call, out.error);
            });
      }));
  MarkMethodRawCallback(
      index("AddServer"),
      new RawHandler([this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                            grpc::ByteBuffer* response) {
        return decode_then<nomad_lite::AddServerRequest, nomad_lite::MembershipChangeResponse>(
            request, response, [this, context](auto* call) {
              if (refused(context, call, Role::kOperator, call->request)) return;
              service_.members().add_server(
                  call->request,
                  [context, call](Outcome<nomad_lite::MembershipChangeResponse> out) {
                    if (out.ok()) call->response = std::move(out.value);
                    finish_member_call(context, call, out.error);
                  });
            });
      }));
  MarkMethodRawCallback(
      index("RemoveServer"),
      new RawHandler([this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                            grpc::ByteBuffer* response) {
        return decode_then<nomad_lite::RemoveServerRequest, nomad_lite::MembershipChangeResponse>(
            request, response, [this, context](auto* call) {
              if (refused(context, call, Role::kOperator, call->request)) return;
              service_.members().remove_server(
                  call->request,
                  [context, call](Outcome<nomad_lite::MembershipChangeResponse> out) {
                    if (out.ok()) call->response = std::move(out.value);
                    finish_member_call(context, call, out.error);
                  });
            });
      }));
}

GrpcInternalService::~GrpcInternalService() = default;

void GrpcInternalService::register_join() {
  MarkMethodRawCallback(
      method_index<nomad_lite::JoinRequest>("InternalService", "Join"),
      new RawHandler([this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                            grpc::ByteBuffer* response) -> grpc::ServerUnaryReactor* {
        auto caller = gate_.admit(*context);
        if (!caller.ok()) {
          auto* reactor = context->DefaultReactor();
          reactor->Finish(to_grpc_status(caller.error));
          return reactor;
        }
        return decode_then<nomad_lite::JoinRequest, nomad_lite::JoinResponse>(
            request, response, [this, context, proven = caller.value](auto* call) {
              service_.members().join(
                  call->request, proven, gate_.tls(), forwarded_for(*context),
                  [this, context, call, proven](Outcome<nomad_lite::JoinResponse> out) {
                    if (out.error.code == Code::kNotLeader && !out.error.leader_address.empty()) {
                      // The leader checks again; this node vouched for the certificate.
                      // Forwarded off gRPC's callback thread: the call blocks.
                      std::thread([this, context, call, proven,
                                   address = out.error.leader_address] {
                        grpc::Status s = leader_forwarder_.forward(
                            address, &nomad_lite::InternalService::Stub::Join, call->request,
                            {kForwardedForHeader, std::to_string(proven)}, &call->response);
                        finish_member_call(context, call, join_error(s));
                      }).detach();
                      return;
                    }
                    if (out.ok()) call->response = std::move(out.value);
                    finish_member_call(context, call, out.error);
                  });
            });
      }));
}

}  // namespace nomad::api
