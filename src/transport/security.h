#pragma once

// How this process secures the gRPC connections it makes and accepts.
//
// With TLS configured, every connection is mutual TLS against one CA: a server accepts only
// callers whose certificate chains to it, and a caller checks the server's certificate and
// name. What a process presents when it calls out is process-wide (set once at start-up):
// a server presents its node certificate to its peers, the CLI a client certificate.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace nomad::transport {

// PEM text, not paths: read and checked once at start-up.
struct TlsMaterial {
  std::string ca_pem;    // the CA every certificate must chain to
  std::string cert_pem;  // this process's certificate (optional for a client)
  std::string key_pem;
  bool enabled() const { return !ca_pem.empty(); }
};

struct OutgoingSecurity {
  TlsMaterial tls;
  std::string bearer_token;  // sent as `authorization: Bearer …` on every call; "" for none
};

// Set once, before the first channel is made.
void set_outgoing_security(OutgoingSecurity security);
bool outgoing_tls();

// Credentials for a channel to a node, from the process-wide setting.
std::shared_ptr<grpc::ChannelCredentials> channel_credentials();
// Adds the process-wide bearer token (if any) to a call.
void add_call_credentials(grpc::ClientContext* context);
// Adds `authorization` as given (a request's own header forwarded on its behalf); "" adds none.
void add_authorization(grpc::ClientContext* context, const std::string& authorization);

// Server credentials: insecure without TLS; else TLS that requires and verifies a client
// certificate signed by the CA.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsMaterial& tls);

// The first certificate the caller presented (PEM), or "" (no TLS, or none presented).
std::string caller_certificate(const grpc::ServerContextBase& context);
// The caller's `authorization` metadata, or "".
std::string caller_authorization(const grpc::ServerContextBase& context);

}  // namespace nomad::transport
