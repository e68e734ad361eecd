#pragma once

// `nomad-lite server --join ADDR[,ADDR]`: before the node starts, it asks the running
// cluster to add it (InternalService.Join at any member; a follower forwards the request to
// the leader). The leader adds it as a learner, replicates the log to it, and makes it a
// voter once it has caught up (src/raft). Until a member answers, the node retries with
// backoff; a refusal that a retry cannot fix (the id is taken, a certificate naming another
// node, a wrong token) ends the start with its reason.

#include <signal.h>

#include <string>
#include <vector>

#include "common/peers.h"
#include "common/status.h"
#include "node/server_config.h"

namespace nomad::server {

struct JoinAnswer {
  std::string cluster;  // the cluster's identity, stored with this node's data
  uint64_t leader_id = 0;
  std::vector<PeerAddress> members;  // the members then (this node excluded)
};

// "host:port" (an IPv6 host in brackets) as a PeerAddress of node `id`; false when malformed.
bool peer_from_address(uint64_t id, const std::string& address, PeerAddress* out);

// Settles, before the node starts, which cluster its data directory belongs to and how it
// became a member (server/cluster_identity.h): a stored identity wins over --peers and --join
// (a change of either is logged and ignored); a new node of a new cluster stores its --peers;
// a new node with --join asks the cluster (ask_to_join) and stores the answer. Sets
// config->peers (the bootstrap members) and config->joined, *cluster, and *seed (the members a
// joining node reaches first). *stopped: a stop signal came while it asked.
Status prepare_membership(node::ServerConfig* config, const sigset_t& signals, std::string* cluster,
                          std::vector<PeerAddress>* seed, bool* stopped);

// Asks until a member admits this node. *stopped is set when SIGINT or SIGTERM (blocked in
// `signals`) arrived first; the result is then ok and *out empty.
Status ask_to_join(const node::ServerConfig& config, const sigset_t& signals, JoinAnswer* out,
                   bool* stopped);

}  // namespace nomad::server
