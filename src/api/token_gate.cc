#include "api/token_gate.h"

#include "tls/identity.h"

namespace nomad::api {

bool TokenGate::needs_no_token(std::string_view path) {
  // grpc.health.v1.Health (Check, Watch) and server reflection (v1alpha, and v1 for newer
  // clients): probes carry no token, and the schema is the published proto.
  return path.starts_with("/grpc.health.v1.Health/") ||
         path == "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo" ||
         path == "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
}

grpc::Status TokenGate::Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                                OutputMetadata*, OutputMetadata*) {
  if (auto it = auth_metadata.find(":path");
      it != auth_metadata.end() && needs_no_token({it->second.data(), it->second.size()})) {
    return {};
  }
  if (context != nullptr) {
    auto certs = context->FindPropertyValues("x509_pem_cert");
    if (!certs.empty()) {
      std::string_view pem(certs.front().data(), certs.front().size());
      auto kind = tls::identity_of_certificate(pem).kind;
      // Agents authenticate as nodes do: by their certificate.
      if (kind == tls::CertIdentity::Kind::kNode || kind == tls::CertIdentity::Kind::kAgent) {
        return {};
      }
    }
  }
  std::string_view authorization;
  if (auto it = auth_metadata.find("authorization"); it != auth_metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  AuthDecision decision = auth_.authorize(authorization, Role::kRead);
  switch (decision.refusal) {
    case Refusal::kNone:
      return {};
    case Refusal::kUnauthenticated:
      return {grpc::StatusCode::UNAUTHENTICATED, decision.message};
    case Refusal::kPermissionDenied:
      return {grpc::StatusCode::PERMISSION_DENIED, decision.message};
  }
  return {grpc::StatusCode::INTERNAL, "unknown refusal"};
}

}  // namespace nomad::api
