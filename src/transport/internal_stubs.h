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
  // The channel settings: a node's, or an agent's (agent_channel_arguments: fewer keepalive
  // pings, so a thousand idle agents cost the leader little).
  enum class Kind { kNode, kAgent };
  explicit InternalStubs(Kind kind = Kind::kNode) : kind_(kind) {}

  struct Peer {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<nomad_lite::InternalService::Stub> stub;
  };

  // The channel and stub for `address`.
  Peer& at(const std::string& address);

 private:
  const Kind kind_;
  std::mutex mu_;
  std::map<std::string, Peer> peers_;
};

}  // namespace nomad::transport
