#pragma once

// With TLS, a client call without a good token is refused as soon as its metadata arrives,
// before its message is read: gRPC runs an AuthMetadataProcessor on the metadata and fails
// the call when it says no, so a 16 MiB request without a token costs the node nothing.
// (Without TLS, gRPC has no such hook: the token is checked once the message is read, and
// the server's message limit bounds what that costs.)
//
// Callers with a node certificate pass here (node-to-node calls need no token; PeerGate
// checks them per call); any other caller needs a token of at least the read role. The
// role each method needs is still checked per call. The health checking protocol and server
// reflection need no token (needs_no_token): they answer a status and the published schema.

#include <grpcpp/grpcpp.h>

#include <string_view>

#include "api/auth.h"

namespace nomad::api {

class TokenGate final : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenGate(const Authenticator& auth) : auth_(auth) {}

  bool IsBlocking() const override { return false; }  // a digest and a compare: cheap
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // Whether a call to this method path (":path", e.g. "/grpc.health.v1.Health/Check") is let
  // through without a token.
  static bool needs_no_token(std::string_view path);

 private:
  const Authenticator& auth_;
};

}  // namespace nomad::api
