// The membership methods over gRPC: SchedulerService's ListMembers, AddServer and RemoveServer
// (read and operator roles) and InternalService's Join (nodes only, forwarded to the leader by
// a follower). Registered as raw callback methods, as the other calls: a request that does
// not decode gets INVALID_ARGUMENT.

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "api/grpc_service.h"
#include "api/members.h"
#include "transport/channel_args.h"
#include "transport/security.h"

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

// How long a forwarded Join may take at the leader (its change commits within a round trip).
constexpr auto kJoinForwardTimeout = std::chrono::seconds(10);

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

}  // namespace

// The leader's InternalService, for Joins that reached a follower. One channel per address.
class JoinForwarder {
 public:
  // `certified`: the node the joining node's certificate named here (0: no TLS).
  Outcome<nomad_lite::JoinResponse> forward(const std::string& address,
                                            const nomad_lite::JoinRequest& request,
                                            uint64_t certified) {
    nomad_lite::InternalService::Stub* stub;
    {
      std::lock_guard lock(mu_);
      auto& slot = stubs_[address];
      if (!slot) {
        slot = nomad_lite::InternalService::NewStub(grpc::CreateCustomChannel(
            address, transport::channel_credentials(), transport::node_channel_arguments()));
      }
      stub = slot.get();
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kJoinForwardTimeout);
    transport::add_call_credentials(&context);
    context.AddMetadata(kForwardedForHeader, std::to_string(certified));
    Outcome<nomad_lite::JoinResponse> out;
    grpc::Status s = stub->Join(&context, request, &out.value);
    if (s.ok()) return out;
    out.error.message = "the leader at " + address + " answered: " + s.error_message();
    switch (s.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
        out.error.code = Code::kInvalidArgument;
        break;
      case grpc::StatusCode::ALREADY_EXISTS:
        out.error.code = Code::kAlreadyExists;
        break;
      case grpc::StatusCode::PERMISSION_DENIED:
        out.error.code = Code::kPermissionDenied;
        break;
      case grpc::StatusCode::FAILED_PRECONDITION:
        out.error.code = Code::kFailedPrecondition;
        break;
      default:
        out.error.code = Code::kUnavailable;
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<nomad_lite::InternalService::Stub>> stubs_;
};

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
  join_forwarder_ = std::make_shared<JoinForwarder>();
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
                        auto forwarded = join_forwarder_->forward(address, call->request, proven);
                        if (forwarded.ok()) call->response = std::move(forwarded.value);
                        finish_member_call(context, call, forwarded.error);
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
