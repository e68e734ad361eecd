#pragma once

// Calls to other nodes' InternalService: worker reports to the leader, and output streams
// from the node that ran an attempt. One channel per address, made on first use.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "proto/nomad_lite.grpc.pb.h"
#include "transport/internal_stubs.h"

namespace nomad::transport {

class InternalClient {
 public:
  // Whose channels: a server's (node_channel_arguments) or a worker-only agent's
  // (agent_channel_arguments: fewer keepalive pings).
  enum class Role { kNode, kAgent };
  explicit InternalClient(Role role = Role::kNode)
      : peers_(role == Role::kAgent ? InternalStubs::Kind::kAgent : InternalStubs::Kind::kNode) {}
  ~InternalClient();

  // Where the leader's acks of reports go (from the thread reading the report stream). Set
  // before the first report.
  using AckHandler = std::function<void(const nomad_lite::WorkerReportAck&)>;
  void set_report_ack_handler(AckHandler handler) { on_ack_ = std::move(handler); }

  // A worker's report to the leader at `address`, on one long-lived ReportStream call, opened
  // on first use and
  // reopened when the address changes or the leader ended the stream: a report then costs
  // one message on an open stream rather than a call. True once the report is on its way
  // (not that it was applied: the worker resends until it sees that); its ack comes later,
  // to the ack handler, from a thread that reads the stream. Called by one thread at a time.
  bool stream_report(const std::string& address, const nomad_lite::WorkerReport& report,
                     std::chrono::milliseconds connect_timeout);
  // Cancels the open report stream, from any thread: a write blocked on a leader that stopped
  // reading returns, and the next report goes to the current leader.
  void interrupt_report_stream();

  // Waits up to 1.5 s for the connection first: a node that just came back is read from,
  // rather than reported unreachable while the channel is still in its reconnect backoff.
  std::unique_ptr<grpc::ClientReader<nomad_lite::LogChunk>> stream_logs(
      const std::string& address, grpc::ClientContext* context,
      const nomad_lite::JobLogsRequest& request);

 private:
  bool open_report_stream(const std::string& address, std::chrono::milliseconds connect_timeout);
  // Ends the open report stream; `cancel` when it may still be healthy (the caller moves on).
  void close_report_stream(bool cancel);

  InternalStubs peers_;

  // The report stream: used by the thread calling stream_report (and the destructor); the
  // mutex guards only `context`, for interrupt_report_stream.
  std::mutex stream_mu_;
  struct ReportStream {
    std::string address;
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReaderWriter<nomad_lite::WorkerReport, nomad_lite::WorkerReportAck>>
        writer;
    std::thread acks;  // reads the leader's acks until the stream ends
  };
  AckHandler on_ack_;
  ReportStream stream_;
  std::atomic<bool> interrupted_{false};
};

}  // namespace nomad::transport
