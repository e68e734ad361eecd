#pragma once

// What `nomad-lite server` reads at start-up to protect itself: its TLS material and the
// client tokens. Every problem is found here, before a port is opened, and named with the flag
// and file it comes from.

#include "api/auth.h"
#include "common/status.h"
#include "server/server.h"
#include "transport/security.h"

namespace nomad::server {

struct ServerSecurity {
  transport::TlsMaterial tls;  // empty without --tls-*
  api::Authenticator auth;     // no tokens without --token-file
};

// Reads and checks the files: the key matches the certificate, the certificate chains to the
// CA and names this node (urn:nomad-lite:node:<--node-id>), the token file parses and, when
// nodes call each other without TLS, holds an operator token for them.
Status load_server_security(const ServerConfig& config, ServerSecurity* out);

}  // namespace nomad::server
