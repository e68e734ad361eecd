#pragma once

// The node's peer sender in a server: Raft messages over gRPC streams (transport::PeerTransport).

#include <memory>
#include <vector>

#include "common/peers.h"
#include "node/node_deps.h"
#include "transport/peer_transport.h"

namespace nomad::server {

class GrpcPeerSender final : public node::PeerSender {
 public:
  GrpcPeerSender(raft::NodeId self, std::vector<PeerAddress> peers)
      : self_(self), peers_(std::move(peers)) {}

  // The channels are made here, once the process's outgoing security is set.
  void start() override {
    transport_ = std::make_unique<transport::PeerTransport>(self_, peers_);
    transport_->start();
  }
  void stop() override {
    if (transport_) transport_->stop();
  }
  // Only between start() and stop() (the node's loop and log writer).
  void send(std::vector<raft::Message> messages) override { transport_->send(std::move(messages)); }
  // Before start(): the peers it starts with; after: the membership changed.
  void set_peers(const std::vector<PeerAddress>& peers) override {
    if (transport_) {
      transport_->set_peers(peers);
    } else {
      peers_ = peers;
    }
  }

 private:
  raft::NodeId self_;
  std::vector<PeerAddress> peers_;
  std::unique_ptr<transport::PeerTransport> transport_;
};

}  // namespace nomad::server
