#pragma once

// Who a certificate speaks for, and the start-up checks of the PEM files given in flags.
//
// A peer's identity comes only from URI subjectAltNames that the CA put there
// (urn:nomad-lite:node:<id>, urn:nomad-lite:client), never from the common name, which is
// free text. Callers must verify the certificate's chain (the TLS handshake does) before
// trusting what identity_of_certificate() says.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace nomad::tls {

struct CertIdentity {
  enum class Kind { kNone, kNode, kClient, kAgent } kind = Kind::kNone;
  uint64_t node_id = 0;  // set for kNode only
  // kAgent: the certificate's agent number K (urn:nomad-lite:agent:<K>, "agent-K" from
  // tls init --agents). The cluster binds the agent id it gives to this name.
  uint64_t agent_number = 0;
  std::string agent_name() const { return "agent-" + std::to_string(agent_number); }
};

// The largest node id a certificate may name (urn:nomad-lite:node ids are 1 to 2^63).
inline constexpr uint64_t kMaxCertNodeId = uint64_t{1} << 63;

// Reads the first certificate of `pem` and its URI subjectAltNames:
//   urn:nomad-lite:node:<id>  -> kNode, id in decimal, 1 to 2^63, no sign, no leading zero
//                                (one spelling per id)
//   urn:nomad-lite:client     -> kClient
//   urn:nomad-lite:agent:<K>  -> kAgent, K as a node id is spelled (a worker-only agent)
// Anything else, unparsable PEM, or two different nomad-lite identities in one certificate
// (ambiguous: which one would it act as?) -> kNone. Other URIs are ignored.
CertIdentity identity_of_certificate(std::string_view pem);

// Reads the PEM file at `path` into `out`. `what` is the flag that named it ("--tls-cert"), so
// errors read "--tls-cert /x/y: cannot read: No such file or directory". Refuses files without
// a "-----BEGIN " line and files over 1 MiB (not a certificate or key; maybe the wrong path).
Status read_pem_file(const std::string& path, const char* what, std::string* out);

// Checks that the private key in `key_pem` belongs to the first certificate in `cert_pem`, so
// that a mismatched pair fails at start-up instead of at every handshake. `cert_what` and
// `key_what` name where each came from as the user gave it (e.g. "--tls-cert node-1.pem").
// Encrypted keys are refused (there is no one to ask for a passphrase).
Status check_key_matches_certificate(const std::string& cert_pem, const std::string& key_pem,
                                     const std::string& cert_what, const std::string& key_what);

// Checks that the first certificate in `cert_pem` verifies (signature chain, validity period)
// against the CA certificates in `ca_pem`; further certificates in `cert_pem` are used as
// intermediates. Catches a certificate from another `tls init` run before peers reject it with
// a bare handshake failure. Errors read e.g. "--tls-cert node.pem is not signed by the CA in
// --tls-ca ca.pem (...)".
Status check_certificate_chains_to(const std::string& cert_pem, const std::string& ca_pem,
                                   const std::string& cert_what, const std::string& ca_what);

}  // namespace nomad::tls
