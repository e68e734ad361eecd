#include "api/peer_gate.h"

#include "api/grpc_service.h"
#include "common/quote.h"
#include "tls/identity.h"
#include "transport/security.h"

namespace nomad::api {

grpc::Status to_grpc_status(const Error& error) {
  if (error.code == Code::kOk) return grpc::Status::OK;
  return grpc::Status(to_grpc_code(error.code),
                      common::bound_message(error.message, kMaxStatusMessageBytes));
}

Outcome<uint64_t> PeerGate::admit(const grpc::ServerContextBase& context) const {
  Outcome<uint64_t> out;
  if (tls_) {
    // The TLS handshake already checked that the certificate chains to our CA.
    tls::CertIdentity id = tls::identity_of_certificate(transport::caller_certificate(context));
    if (id.kind != tls::CertIdentity::Kind::kNode) {
      out.error = {Code::kPermissionDenied,
                   "only nodes of this cluster may make this call: the client certificate does "
                   "not name a node (urn:nomad-lite:node:<id>)",
                   0,
                   {}};
      return out;
    }
    out.value = id.node_id;
    return out;
  }
  if (!auth_.enabled()) return out;
  out.error =
      auth_error(auth_.authorize(transport::caller_authorization(context), Role::kOperator));
  if (!out.ok()) {
    out.error.message = "only nodes of this cluster may make this call: " + out.error.message;
  }
  return out;
}

Outcome<PeerGate::Worker> PeerGate::admit_worker(const grpc::ServerContextBase& context) const {
  Outcome<Worker> out;
  if (tls_) {
    tls::CertIdentity id = tls::identity_of_certificate(transport::caller_certificate(context));
    if (id.kind == tls::CertIdentity::Kind::kAgent) {
      out.value.agent = id.agent_name();
      return out;
    }
  }
  Outcome<uint64_t> node = admit(context);
  out.error = std::move(node.error);
  out.value.node = node.value;
  if (tls_ && !out.ok()) {
    out.error.message =
        "only nodes and agents of this cluster may make this call: the client certificate names "
        "neither a node (urn:nomad-lite:node:<id>) nor an agent (urn:nomad-lite:agent:<k>, "
        "nomad-lite tls init --agents N)";
  }
  return out;
}

}  // namespace nomad::api
