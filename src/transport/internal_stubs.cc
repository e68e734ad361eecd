#include "transport/internal_stubs.h"

#include "transport/channel_args.h"
#include "transport/security.h"

namespace nomad::transport {

InternalStubs::Peer& InternalStubs::at(const std::string& address) {
  std::lock_guard lock(mu_);
  Peer& p = peers_[address];
  if (!p.stub) {
    p.channel = grpc::CreateCustomChannel(
        address, channel_credentials(),
        kind_ == Kind::kAgent ? agent_channel_arguments() : node_channel_arguments());
    p.stub = nomad_lite::InternalService::NewStub(p.channel);
  }
  return p;
}

}  // namespace nomad::transport
