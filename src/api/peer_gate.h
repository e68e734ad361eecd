#pragma once

// Who may make node-to-node calls (Raft, worker reports, output for other nodes). A forged
// Raft message could elect a leader or overwrite the log, so these calls are closed to clients:
// - with TLS, the caller's certificate must name a node (urn:nomad-lite:node:<id>), and Raft
//   messages must come from that node;
// - without TLS but with a --token-file, the caller must present an operator token (nodes use
//   the file's first one);
// - with neither (loopback development), anyone on the machine may.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "api/auth.h"
#include "api/service.h"

namespace nomad::api {

class PeerGate {
 public:
  PeerGate(bool tls, const Authenticator& auth) : tls_(tls), auth_(auth) {}

  // The node the caller proved to be (0: it proved only that it is one of the cluster's, or
  // nothing is checked), or why it may not call.
  Outcome<uint64_t> admit(const grpc::ServerContextBase& context) const;

  // Who may report as a worker or register as an agent: a node (as admit), or with TLS a
  // worker-only agent's certificate (urn:nomad-lite:agent:<K>; `agent` is "agent-K"). Without
  // TLS agents present an operator token, as nodes do, and cannot be told from nodes.
  struct Worker {
    uint64_t node = 0;  // the node proven (0: none, or nothing is checked)
    std::string agent;  // the agent certificate's name ("" when not an agent's)
  };
  Outcome<Worker> admit_worker(const grpc::ServerContextBase& context) const;
  bool tls() const { return tls_; }

 private:
  bool tls_;
  const Authenticator& auth_;
};

grpc::Status to_grpc_status(const Error& error);

}  // namespace nomad::api
