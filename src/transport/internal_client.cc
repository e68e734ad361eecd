#include "transport/internal_client.h"

#include "transport/security.h"

namespace nomad::transport {

InternalClient::Peer& InternalClient::peer(const std::string& address) {
  std::lock_guard lock(mu_);
  Peer& p = peers_[address];
  if (!p.stub) {
    grpc::ChannelArguments args;
    // A node that comes back is reached again within a second: gRPC's default reconnect
    // backoff grows to two minutes, and meanwhile every call would fail at once.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    p.channel = grpc::CreateCustomChannel(address, channel_credentials(), args);
    p.stub = nomad_lite::InternalService::NewStub(p.channel);
  }
  return p;
}

bool InternalClient::report(const std::string& address, const nomad_lite::WorkerReport& report,
                            std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  // Wait for the connection rather than fail fast: a fail-fast call made while the channel
  // connects would cancel the connection attempt, and the next report would do the same.
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  add_call_credentials(&context);
  nomad_lite::WorkerReportAck ack;
  grpc::Status status = peer(address).stub->Report(&context, report, &ack);
  return status.ok() && ack.leader();
}

std::unique_ptr<grpc::ClientReader<nomad_lite::LogChunk>> InternalClient::stream_logs(
    const std::string& address, grpc::ClientContext* context,
    const nomad_lite::JobLogsRequest& request) {
  Peer& p = peer(address);
  add_call_credentials(context);
  auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(1500);
  p.channel->WaitForConnected(deadline);  // if it is not up by then, the call fails at once
  return p.stub->StreamLogs(context, request);
}

}  // namespace nomad::transport
