#include "transport/internal_client.h"

namespace nomad::transport {

nomad_lite::InternalService::Stub* InternalClient::stub(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& s = stubs_[address];
  if (!s) {
    grpc::ChannelArguments args;
    // A node that comes back is reached again within a second: gRPC's default reconnect
    // backoff grows to two minutes, and meanwhile every call would fail at once.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    s = nomad_lite::InternalService::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  return s.get();
}

bool InternalClient::report(const std::string& address, const nomad_lite::WorkerReport& report,
                            std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  // Wait for the connection rather than fail fast: a fail-fast call made while the channel
  // connects would cancel the connection attempt, and the next report would do the same.
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  nomad_lite::WorkerReportAck ack;
  grpc::Status status = stub(address)->Report(&context, report, &ack);
  return status.ok() && ack.leader();
}

std::unique_ptr<grpc::ClientReader<nomad_lite::LogChunk>> InternalClient::stream_logs(
    const std::string& address, grpc::ClientContext* context,
    const nomad_lite::JobLogsRequest& request) {
  return stub(address)->StreamLogs(context, request);
}

}  // namespace nomad::transport
