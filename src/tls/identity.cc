#include "tls/identity.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "tls/openssl_util.h"

namespace nomad::tls {
namespace {

constexpr std::string_view kNodeUriPrefix = "urn:nomad-lite:node:";
constexpr std::string_view kClientUri = "urn:nomad-lite:client";
constexpr std::string_view kAgentUriPrefix = "urn:nomad-lite:agent:";
constexpr size_t kMaxPemFileBytes = 1 << 20;

// sk_X509_free is a macro, so it cannot be an OpenSslFree argument. Frees the stack only:
// its certificates are borrowed.
struct X509StackFree {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_free(stack); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

// All certificates in `pem`, in order (blocks of other types are skipped). When there are
// none, OpenSSL's reason stays on the error queue for the caller's message.
std::vector<X509Ptr> read_certificates(std::string_view pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio = read_bio(pem);
  if (!bio) return certs;
  ERR_set_mark();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  if (certs.empty()) {
    ERR_clear_last_mark();
  } else {
    ERR_pop_to_mark();  // the end-of-input error after the last certificate
  }
  return certs;
}

// Never prompts: a process started by a service manager has no one to type a passphrase.
int refuse_passphrase(char*, int, int, void*) { return -1; }

// Decimal 1 to kMaxCertNodeId, digits only; a leading zero is refused so that every id has
// exactly one spelling.
bool parse_node_id(std::string_view text, uint64_t* id) {
  if (text.empty() || text.front() == '0') return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  const char* end = text.data() + text.size();
  auto [parsed_end, ec] = std::from_chars(text.data(), end, *id);
  return ec == std::errc() && parsed_end == end && *id <= kMaxCertNodeId;
}

CertIdentity identity_of_uri(std::string_view uri) {
  CertIdentity identity;
  if (uri == kClientUri) {
    identity.kind = CertIdentity::Kind::kClient;
  } else if (uri.starts_with(kNodeUriPrefix) &&
             parse_node_id(uri.substr(kNodeUriPrefix.size()), &identity.node_id)) {
    identity.kind = CertIdentity::Kind::kNode;
  } else if (uri.starts_with(kAgentUriPrefix) &&
             parse_node_id(uri.substr(kAgentUriPrefix.size()), &identity.agent_number)) {
    identity.kind = CertIdentity::Kind::kAgent;
  } else {
    identity.node_id = 0;
    identity.agent_number = 0;
  }
  return identity;
}

CertIdentity identity_of(X509* cert) {
  int critical = 0;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr)));
  CertIdentity found;
  if (!names) return found;  // none, or several subjectAltName extensions: malformed
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    int type = 0;
    auto* value = static_cast<ASN1_STRING*>(
        GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(names.get(), i), &type));
    if (type != GEN_URI || !value) continue;
    std::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                         static_cast<size_t>(ASN1_STRING_length(value)));
    CertIdentity identity = identity_of_uri(uri);
    if (identity.kind == CertIdentity::Kind::kNone) continue;
    if (found.kind != CertIdentity::Kind::kNone &&
        (found.kind != identity.kind || found.node_id != identity.node_id ||
         found.agent_number != identity.agent_number)) {
      return CertIdentity{};
    }
    found = identity;
  }
  return found;
}

}  // namespace

CertIdentity identity_of_certificate(std::string_view pem) {
  ERR_set_mark();  // a certificate that is not one is an answer (kNone), not an error to keep
  BioPtr bio = read_bio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  CertIdentity identity = cert ? identity_of(cert.get()) : CertIdentity{};
  ERR_pop_to_mark();
  return identity;
}

Status read_pem_file(const std::string& path, const char* what, std::string* out) {
  const std::string where = std::string(what) + " " + path;
  auto cannot_read = [&where] {
    return Status::error(where + ": cannot read: " + std::strerror(errno));
  };
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cannot_read();
  struct stat st;
  if (fstat(fd, &st) != 0) {
    Status s = cannot_read();
    close(fd);
    return s;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return Status::error(where + ": is a directory; give the PEM file in it");
  }
  char buffer[16384];
  while (out->size() <= kMaxPemFileBytes) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = cannot_read();
      close(fd);
      out->clear();
      return s;
    }
    if (n == 0) break;
    out->append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (out->size() > kMaxPemFileBytes) {
    out->clear();
    return Status::error(where +
                         ": larger than 1 MiB, which no certificate or key is; check the "
                         "path");
  }
  if (out->find("-----BEGIN ") == std::string::npos) {
    out->clear();
    return Status::error(where +
                         ": not a PEM file (no '-----BEGIN ' line); give a certificate "
                         "or key in PEM format");
  }
  return Status::ok();
}

Status check_key_matches_certificate(const std::string& cert_pem, const std::string& key_pem,
                                     const std::string& cert_what, const std::string& key_what) {
  ERR_clear_error();  // so that the messages below carry only this check's reasons
  std::vector<X509Ptr> certs = read_certificates(cert_pem);
  if (certs.empty()) {
    return Status::error(cert_what + ": no certificate found (" + openssl_errors() +
                         "); give a PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  BioPtr bio = read_bio(key_pem);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr)
                  : nullptr);
  if (!key) {
    return Status::error(key_what + ": no usable private key (" + openssl_errors() +
                         "); give an unencrypted PEM private key");
  }
  if (X509_check_private_key(certs.front().get(), key.get()) != 1) {
    return Status::error(key_what + " does not match the certificate in " + cert_what + " (" +
                         openssl_errors() + "); give the key generated with that certificate");
  }
  return Status::ok();
}

Status check_certificate_chains_to(const std::string& cert_pem, const std::string& ca_pem,
                                   const std::string& cert_what, const std::string& ca_what) {
  ERR_clear_error();
  std::vector<X509Ptr> certs = read_certificates(cert_pem);
  if (certs.empty()) {
    return Status::error(cert_what + ": no certificate found (" + openssl_errors() +
                         "); give a PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  std::vector<X509Ptr> cas = read_certificates(ca_pem);
  if (cas.empty()) {
    return Status::error(ca_what + ": no CA certificate found (" + openssl_errors() +
                         "); give the CA's PEM certificate (ca.pem from `tls init`)");
  }

  auto failure = [&](const char* call) {
    return Status::error("cannot check " + cert_what + " against " + ca_what + " (" + call +
                         " failed: " + openssl_errors() + ")");
  };
  X509StorePtr store(X509_STORE_new());
  if (!store) return failure("X509_STORE_new");
  for (const X509Ptr& ca : cas) {
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) return failure("X509_STORE_add_cert");
  }
  // Certificates after the first in cert_pem are intermediates: untrusted, but usable to
  // build the chain. The stack borrows them from `certs`.
  X509StackPtr intermediates(sk_X509_new_null());
  if (!intermediates) return failure("sk_X509_new_null");
  for (size_t i = 1; i < certs.size(); ++i) {
    if (!sk_X509_push(intermediates.get(), certs[i].get())) return failure("sk_X509_push");
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx) return failure("X509_STORE_CTX_new");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), certs.front().get(), intermediates.get()) != 1) {
    return failure("X509_STORE_CTX_init");
  }
  if (X509_verify_cert(ctx.get()) == 1) return Status::ok();

  int error = X509_STORE_CTX_get_error(ctx.get());
  std::string reason = X509_verify_cert_error_string(error);
  ERR_clear_error();
  switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return Status::error(cert_what + " is not signed by the CA in " + ca_what + " (" + reason +
                           "); give a certificate issued by that CA, or the CA that issued it");
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return Status::error(cert_what + " does not verify against the CA in " + ca_what + ": " +
                           reason + "; check this machine's clock, or issue a new certificate");
    default:
      return Status::error(cert_what + " does not verify against the CA in " + ca_what + ": " +
                           reason);
  }
}

}  // namespace nomad::tls
