#pragma once

// A node as a server runs it: the data directory's WAL and snapshots, the gRPC peer
// transport and the worker, built from the server's configuration and handed to node::Node.

#include "node/node.h"
#include "node/server_config.h"
#include "server/disk_stores.h"
#include "server/grpc_peer_sender.h"
#include "server/server_worker.h"

namespace nomad::server {

class NodeHost {
 public:
  // `cluster` names the cluster in the WAL (server/cluster_identity.h); `seed` are the peers
  // a node that is joining reaches before it learns the membership.
  NodeHost(const node::ServerConfig& config, const std::string& cluster,
           const std::vector<PeerAddress>& seed = {});
  ~NodeHost() { stop(); }
  NodeHost(const NodeHost&) = delete;
  NodeHost& operator=(const NodeHost&) = delete;

  // Makes the data directory (private, writable), then starts the node on it. An error names
  // what is wrong with the data directory.
  Status start();
  void stop() { node_.stop(); }

  node::Node& node() { return node_; }
  worker::Worker& worker() { return worker_.worker(); }
  transport::InternalClient& internal_client() { return worker_.internal_client(); }

 private:
  node::ServerConfig config_;
  WalLogStore log_;
  DiskSnapshots snapshots_;
  GrpcPeerSender peers_;
  ServerWorker worker_;
  node::Node node_;  // last: it stops before its collaborators go
};

}  // namespace nomad::server
