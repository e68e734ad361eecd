#pragma once

// The leader's end of InternalService.ReportStream: one long-lived stream per worker, whose
// every message is a WorkerReport handed to the node loop as a Report call's is. A report
// then costs one message on an open stream rather than a call of its own (headers, a new
// HTTP/2 stream, the admission check). The loop acks each report it processed, and the ack
// goes back on the stream: the worker's lease (worker/lease.h). While an ack is being written
// only the newest waits behind it (it renews the lease at least as far). A stream ends when
// its worker closes it, when this node is no longer the leader (the worker turns to the new
// one), or when the server stops.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "api/peer_gate.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::api {

// A node reports only on its own attempts (another's would end or fake them): with TLS the
// certificate proves the node, `caller` (0: nothing proven). OK, or PERMISSION_DENIED naming
// both.
grpc::Status check_report_sender(uint64_t caller, const nomad_lite::WorkerReport& report);

// Where the reports go: the node (Node::is_leader, Node::deliver_report). `deliver` calls
// its ack function once the report was processed, from any thread.
using AckFn = std::function<void(const nomad_lite::WorkerReportAck&)>;
struct ReportSink {
  std::function<bool()> is_leader;
  std::function<void(nomad_lite::WorkerReport, AckFn)> deliver;
  // Whether agent `id` was registered by the agent certificate named `certificate` (with TLS
  // an agent reports only for itself). Unset: no agent is.
  std::function<bool(uint64_t id, const std::string& certificate)> agent_certified;
};

// An agent's certificate (`certificate`, "agent-K") may report only for the id it registered.
grpc::Status check_agent_sender(const ReportSink& sink, const std::string& certificate,
                                uint64_t id);

class ReportStreams {
 public:
  ReportStreams(ReportSink sink, const PeerGate& gate) : sink_(std::move(sink)), gate_(gate) {}

  // The reactor for a new stream; it finishes at once when the caller is not a node (or
  // stop() was called).
  // Each message is decoded here (a stream whose message does not decode as a WorkerReport
  // ends with INVALID_ARGUMENT), and each ack encoded.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* open(
      grpc::CallbackServerContext* context);

  // Ends every open stream and refuses new ones: an open stream would otherwise hold the
  // server's Shutdown up until its deadline.
  void stop();

 private:
  class Reactor;
  void closed(grpc::CallbackServerContext* context);

  ReportSink sink_;
  const PeerGate& gate_;
  std::mutex mu_;
  std::set<grpc::CallbackServerContext*> open_;
  bool stopped_ = false;
};

}  // namespace nomad::api
