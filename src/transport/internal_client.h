#pragma once

// Calls to other nodes' InternalService: worker reports to the leader, and output streams
// from the node that ran an attempt. One channel per address, made on first use.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "proto/nomad_lite.grpc.pb.h"

namespace nomad::transport {

class InternalClient {
 public:
  // True if the node at `address` took the report as leader.
  bool report(const std::string& address, const nomad_lite::WorkerReport& report,
              std::chrono::milliseconds timeout);

  // Waits up to 1.5 s for the connection first: a node that just came back is read from,
  // rather than reported unreachable while the channel is still in its reconnect backoff.
  std::unique_ptr<grpc::ClientReader<nomad_lite::LogChunk>> stream_logs(
      const std::string& address, grpc::ClientContext* context,
      const nomad_lite::JobLogsRequest& request);

 private:
  struct Peer {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<nomad_lite::InternalService::Stub> stub;
  };
  Peer& peer(const std::string& address);

  std::mutex mu_;
  std::map<std::string, Peer> peers_;
};

}  // namespace nomad::transport
