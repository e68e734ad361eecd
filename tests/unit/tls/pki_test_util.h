#pragma once

// Helpers for the TLS tests: reading files and certificates, an
// independent chain check (OpenSSL's X509_verify_cert, not the code under test) and
// hand-made certificates with chosen URI subjectAltNames.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include "tls/openssl_util.h"

namespace nomad::tls::testing {

using nomad::testing::TempDir;

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

inline void write_file(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// Every regular file in `dir` by name, with its contents.
inline std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files[entry.path().filename().string()] = read_file(entry.path().string());
  }
  return files;
}

// Permission bits, or -1 if `path` does not exist.
inline int file_mode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

inline X509Ptr parse_cert(const std::string& pem) {
  BioPtr bio = read_bio(pem);
  return X509Ptr(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

inline X509Ptr load_cert(const std::string& path) { return parse_cert(read_file(path)); }

inline PkeyPtr load_key(const std::string& path) {
  std::string pem = read_file(path);
  BioPtr bio = read_bio(pem);
  return PkeyPtr(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

// Whether `cert` chains to `ca` for `purpose` (0: no purpose check), per X509_verify_cert.
inline bool verifies(X509* cert, X509* ca, int purpose = 0) {
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    ADD_FAILURE() << "cannot set up X509_verify_cert: " << openssl_errors();
    return false;
  }
  if (purpose != 0) X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  bool ok = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  return ok;
}

// The subjectAltNames of `cert` as "DNS:name", "IP:<address text>", "URI:uri".
inline std::vector<std::string> alt_names(X509* cert) {
  std::vector<std::string> out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(
                                             ASN1_STRING_get0_data(name->d.dNSName)),
                                         ASN1_STRING_length(name->d.dNSName)));
    } else if (name->type == GEN_URI) {
      ASN1_STRING* uri = name->d.uniformResourceIdentifier;
      out.push_back("URI:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                                         ASN1_STRING_length(uri)));
    } else if (name->type == GEN_IPADD) {
      ASN1_OCTET_STRING* address = name->d.iPAddress;
      int length = ASN1_STRING_length(address);
      char text[INET6_ADDRSTRLEN] = "?";
      if (length == 4 || length == 16) {
        inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(address), text,
                  sizeof(text));
      }
      out.push_back(std::string("IP:") + text);
    }
  }
  return out;
}

// A self-signed certificate whose subjectAltName holds exactly `uris`, built with OpenSSL
// directly (not with the code under test), for identities tls init would never issue.
inline std::string make_cert_with_uris(const std::vector<std::string>& uris) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!key || !cert || !names) return "";
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("nomad-lite node 1"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key.get());
  for (const std::string& uri : uris) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_IA5STRING* value = ASN1_IA5STRING_new();
    ASN1_STRING_set(value, uri.data(), static_cast<int>(uri.size()));
    GENERAL_NAME_set0_value(name, GEN_URI, value);
    sk_GENERAL_NAME_push(names.get(), name);
  }
  if (!uris.empty()) {
    X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace nomad::tls::testing
