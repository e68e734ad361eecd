#pragma once

// Channels to other nodes' InternalService, one per address, made on first use with the
// node's channel settings (node_channel_arguments: keepalive, and a short reconnect backoff so
// that a node that comes back is reached again within half a second) and credentials. Shared
// by the worker's client, a follower forwarding to the leader, and an agent. Thread-safe; a
// channel and its stub live as long as this.

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "proto/nomad_lite.grpc.pb.h"

namespace nomad::transport {

class InternalStubs {
 public:
  struct Peer {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<nomad_lite::InternalService::Stub> stub;
  };

  // The channel and stub for `address`.
  Peer& at(const std::string& address);

 private:
  std::mutex mu_;
  std::map<std::string, Peer> peers_;
};

}  // namespace nomad::transport
