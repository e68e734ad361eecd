#include "transport/internal_client.h"

#include "common/thread_name.h"
#include "transport/channel_args.h"
#include "transport/security.h"

namespace nomad::transport {

InternalClient::Peer& InternalClient::peer(const std::string& address) {
  std::lock_guard lock(mu_);
  Peer& p = peers_[address];
  if (!p.stub) {
    // Keepalive and a short reconnect backoff: a node that comes back is reached again
    // within half a second.
    grpc::ChannelArguments args =
        role_ == Role::kAgent ? agent_channel_arguments() : node_channel_arguments();
    p.channel = grpc::CreateCustomChannel(address, channel_credentials(), args);
    p.stub = nomad_lite::InternalService::NewStub(p.channel);
  }
  return p;
}

InternalClient::~InternalClient() { close_report_stream(true); }

bool InternalClient::stream_report(const std::string& address,
                                   const nomad_lite::WorkerReport& report,
                                   std::chrono::milliseconds connect_timeout) {
  if (stream_.writer && (stream_.address != address || interrupted_.exchange(false))) {
    close_report_stream(true);
  }
  // A stream the leader ended shows up only at the next write: then one fresh stream.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!stream_.writer && !open_report_stream(address, connect_timeout)) return false;
    if (stream_.writer->Write(report)) return true;
    close_report_stream(false);
  }
  return false;
}

void InternalClient::interrupt_report_stream() {
  std::lock_guard lock(stream_mu_);
  if (!stream_.context) return;
  // A write after the cancel may still look accepted: the next report opens a new stream.
  interrupted_ = true;
  stream_.context->TryCancel();
}

bool InternalClient::open_report_stream(const std::string& address,
                                        std::chrono::milliseconds connect_timeout) {
  Peer& p = peer(address);
  // Wait for the connection rather than fail fast: a fail-fast call made while the channel
  // connects would cancel the connection attempt, and the next report would do the same.
  if (!p.channel->WaitForConnected(std::chrono::system_clock::now() + connect_timeout)) {
    return false;
  }
  auto context = std::make_unique<grpc::ClientContext>();
  add_call_credentials(context.get());
  {
    std::lock_guard lock(stream_mu_);
    stream_.context = std::move(context);
    interrupted_ = false;  // an interruption of the stream before this one
  }
  stream_.address = address;
  stream_.writer = p.stub->ReportStream(stream_.context.get());
  if (stream_.writer) {
    stream_.acks = std::thread([this, stream = stream_.writer.get()] {
      common::name_this_thread("report-acks");
      nomad_lite::WorkerReportAck ack;
      while (stream->Read(&ack)) {
        if (on_ack_) on_ack_(ack);
      }
    });
    return true;
  }
  close_report_stream(false);
  return false;
}

void InternalClient::close_report_stream(bool cancel) {
  if (stream_.writer) {
    if (cancel) stream_.context->TryCancel();  // Finish then returns without waiting for it
    // The reader's Read fails once the call has ended (a failed write means it has).
    if (stream_.acks.joinable()) stream_.acks.join();
    stream_.writer->Finish();
    stream_.writer.reset();
  }
  std::lock_guard lock(stream_mu_);
  stream_.context.reset();
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
