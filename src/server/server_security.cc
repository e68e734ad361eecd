#include "server/server_security.h"

#include "tls/identity.h"

namespace nomad::server {

Status load_server_security(const ServerConfig& config, ServerSecurity* out) {
  ServerSecurity s;
  if (!config.tls_ca.empty()) {
    if (Status st = tls::read_pem_file(config.tls_ca, "--tls-ca", &s.tls.ca_pem); !st) return st;
    if (Status st = tls::read_pem_file(config.tls_cert, "--tls-cert", &s.tls.cert_pem); !st) {
      return st;
    }
    if (Status st = tls::read_pem_file(config.tls_key, "--tls-key", &s.tls.key_pem); !st) return st;
    if (Status st = tls::check_key_matches_certificate(s.tls.cert_pem, s.tls.key_pem,
                                                       "--tls-cert " + config.tls_cert,
                                                       "--tls-key " + config.tls_key);
        !st) {
      return st;
    }
    if (Status st = tls::check_certificate_chains_to(s.tls.cert_pem, s.tls.ca_pem,
                                                     "--tls-cert " + config.tls_cert,
                                                     "--tls-ca " + config.tls_ca);
        !st) {
      return st;
    }
    tls::CertIdentity id = tls::identity_of_certificate(s.tls.cert_pem);
    if (id.kind != tls::CertIdentity::Kind::kNode || id.node_id != config.node_id) {
      std::string names = id.kind == tls::CertIdentity::Kind::kNode
                              ? "names node " + std::to_string(id.node_id)
                              : "names no node";
      return Status::error("--tls-cert " + config.tls_cert + " " + names + " but --node-id is " +
                           std::to_string(config.node_id) +
                           ": peers would refuse it; use this node's certificate (node-" +
                           std::to_string(config.node_id) + ".pem from nomad-lite tls init)");
    }
  }
  if (!config.token_file.empty()) {
    if (Status st = api::Authenticator::load(config.token_file, &s.auth); !st) return st;
    if (!s.tls.enabled() && !config.peers.empty() && s.auth.peer_token().empty()) {
      return Status::error("--token-file " + config.token_file +
                           ": without TLS, nodes call each other with an operator token, and "
                           "this file has none; add a line 'operator TOKEN' (the same file on "
                           "every node) or enable TLS");
    }
  }
  *out = std::move(s);
  return Status::ok();
}

}  // namespace nomad::server
