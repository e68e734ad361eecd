// InternalService's RegisterAgent and AgentStream over gRPC (api/agents.h,
// api/agent_streams.h). A follower forwards a registration to the leader, saying which agent
// certificate it saw (the leader believes that only from a node's certificate).

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "api/agent_streams.h"
#include "api/agents.h"
#include "api/grpc_service.h"
#include "transport/channel_args.h"
#include "transport/security.h"

namespace nomad::api {
namespace {

using RawHandler = grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>;

constexpr auto kRegisterForwardTimeout = std::chrono::seconds(10);
constexpr const char* kForwardedAgentHeader = "nomad-lite-forwarded-agent";

std::string forwarded_agent(const grpc::CallbackServerContext& context) {
  const auto& md = context.client_metadata();
  auto it = md.find(kForwardedAgentHeader);
  if (it == md.end()) return "";
  return std::string(it->second.data(), std::min<size_t>(it->second.size(), 64));
}

grpc::StatusCode code_of(Code code) { return to_grpc_code(code); }

}  // namespace

// The leader's InternalService, for registrations that reached a follower. One channel per
// address.
class AgentForwarder {
 public:
  grpc::Status forward(const std::string& address, const nomad_lite::RegisterAgentRequest& request,
                       const std::string& certificate, nomad_lite::RegisterAgentResponse* out) {
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
    context.set_deadline(std::chrono::system_clock::now() + kRegisterForwardTimeout);
    transport::add_call_credentials(&context);
    if (!certificate.empty()) context.AddMetadata(kForwardedAgentHeader, certificate);
    grpc::Status s = stub->RegisterAgent(&context, request, out);
    if (s.ok()) return s;
    return {s.error_code(), "the leader at " + address + " answered: " + s.error_message()};
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<nomad_lite::InternalService::Stub>> stubs_;
};

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
  agent_forwarder_ = std::make_shared<AgentForwarder>();
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
                        grpc::Status s = agent_forwarder_->forward(address, call->request,
                                                                   certificate, &call->response);
                        call->reply(s);
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
