#include "transport/security.h"

#include <mutex>

namespace nomad::transport {
namespace {

std::mutex mu;
OutgoingSecurity outgoing;

std::string find_metadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                          const char* key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

void set_outgoing_security(OutgoingSecurity security) {
  std::lock_guard lock(mu);
  outgoing = std::move(security);
}

bool outgoing_tls() {
  std::lock_guard lock(mu);
  return outgoing.tls.enabled();
}

std::shared_ptr<grpc::ChannelCredentials> channel_credentials() {
  std::lock_guard lock(mu);
  if (!outgoing.tls.enabled()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = outgoing.tls.ca_pem;
  options.pem_cert_chain = outgoing.tls.cert_pem;
  options.pem_private_key = outgoing.tls.key_pem;
  return grpc::SslCredentials(options);
}

void add_call_credentials(grpc::ClientContext* context) {
  std::lock_guard lock(mu);
  if (!outgoing.bearer_token.empty()) {
    context->AddMetadata("authorization", "Bearer " + outgoing.bearer_token);
  }
}

void add_authorization(grpc::ClientContext* context, const std::string& authorization) {
  if (!authorization.empty()) context->AddMetadata("authorization", authorization);
}

std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsMaterial& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = tls.ca_pem;
  options.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
  return grpc::SslServerCredentials(options);
}

std::string caller_certificate(const grpc::ServerContextBase& context) {
  auto auth = context.auth_context();
  if (!auth) return "";
  auto values = auth->FindPropertyValues("x509_pem_cert");
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

std::string caller_authorization(const grpc::ServerContextBase& context) {
  return find_metadata(context.client_metadata(), "authorization");
}

}  // namespace nomad::transport
