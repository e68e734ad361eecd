// InternalService's RegisterAgent and AgentStream over gRPC (api/agents.h,
// api/agent_streams.h). A follower forwards a registration to the leader, saying which agent
// certificate it saw (the leader believes that only from a node's certificate).

#include <grpcpp/grpcpp.h>

#include <thread>

#include "api/agent_streams.h"
#include "api/agents.h"
#include "api/grpc_service.h"

namespace nomad::api {
namespace {

using RawHandler = grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>;

constexpr const char* kForwardedAgentHeader = "nomad-lite-forwarded-agent";

std::string forwarded_agent(const grpc::CallbackServerContext& context) {
  const auto& md = context.client_metadata();
  auto it = md.find(kForwardedAgentHeader);
  if (it == md.end()) return "";
  return std::string(it->second.data(), std::min<size_t>(it->second.size(), 64));
}

grpc::StatusCode code_of(Code code) { return to_grpc_code(code); }

}  // namespace

void GrpcInternalService::stop() {
  report_streams_.stop();
  if (agent_streams_) agent_streams_->stop();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* GrpcInternalService::AgentStream(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  if (!agent_streams_) {
    class Refused final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
     public:
      Refused() { Finish({grpc::StatusCode::UNAVAILABLE, "this server serves no agents"}); }
      void OnDone() override { delete this; }
    };
    return new Refused;
  }
  return agent_streams_->open(context, request);
}

void GrpcInternalService::register_agents() {
  MarkMethodRawCallback(
      method_index<nomad_lite::RegisterAgentRequest>("InternalService", "RegisterAgent"),
      new RawHandler([this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                            grpc::ByteBuffer* response) -> grpc::ServerUnaryReactor* {
        auto refuse = [context](grpc::Status status) {
          auto* reactor = context->DefaultReactor();
          reactor->Finish(std::move(status));
          return reactor;
        };
        if (!agent_registrar_) {
          return refuse({grpc::StatusCode::UNAVAILABLE, "this server serves no agents"});
        }
        auto caller = gate_.admit_worker(*context);
        if (!caller.ok()) return refuse(to_grpc_status(caller.error));
        // With TLS: an agent's own certificate, or a member forwarding what it saw.
        std::string certificate = caller.value.agent;
        if (gate_.tls() && certificate.empty()) {
          certificate = forwarded_agent(*context);
          if (certificate.empty()) {
            return refuse({grpc::StatusCode::PERMISSION_DENIED,
                           "only an agent's certificate (nomad-lite tls init --agents N) may "
                           "register an agent"});
          }
        }
        return decode_then<nomad_lite::RegisterAgentRequest, nomad_lite::RegisterAgentResponse>(
            request, response, [this, context, certificate](auto* call) {
              agent_registrar_->register_agent(
                  call->request, certificate,
                  [this, context, call,
                   certificate](Outcome<nomad_lite::RegisterAgentResponse> out) {
                    if (out.error.code == Code::kNotLeader && !out.error.leader_address.empty()) {
                      // Forwarded off gRPC's callback thread: the call blocks.
                      std::thread([this, call, certificate, address = out.error.leader_address] {
                        call->reply(leader_forwarder_.forward(
                            address, &nomad_lite::InternalService::Stub::RegisterAgent,
                            call->request, {kForwardedAgentHeader, certificate}, &call->response));
                      }).detach();
                      return;
                    }
                    if (out.ok()) call->response = std::move(out.value);
                    (void)context;
                    call->reply(out.ok()
                                    ? grpc::Status::OK
                                    : grpc::Status(code_of(out.error.code), out.error.message));
                  });
            });
      }));
}

}  // namespace nomad::api
