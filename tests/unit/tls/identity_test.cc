#include "tls/identity.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <memory>

#include "pki_test_util.h"
#include "tls/dev_pki.h"

namespace nomad::tls {
namespace {

using testing::make_cert_with_uris;
using testing::read_file;
using testing::TempDir;
using Kind = CertIdentity::Kind;

// Two independent development PKIs, made once for the suite.
class Identity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    for (const char* dir : {"pki", "other"}) {
      DevPkiOptions options;
      options.dir = root_->file(dir);
      Status s = init_dev_pki(options);
      ASSERT_TRUE(s) << s.message();
    }
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }
  static std::string pem(const std::string& name) { return read_file(path(name)); }
  static std::string path(const std::string& name) { return root_->file("pki/" + name); }

  static TempDir* root_;
};
TempDir* Identity::root_ = nullptr;

TEST_F(Identity, NodeCertificatesNameTheirNode) {
  for (int i = 1; i <= 3; ++i) {
    CertIdentity identity = identity_of_certificate(pem(node_cert_file(i)));
    EXPECT_EQ(identity.kind, Kind::kNode) << i;
    EXPECT_EQ(identity.node_id, static_cast<uint64_t>(i));
  }
}

TEST_F(Identity, ClientCertificateIsTheClient) {
  CertIdentity identity = identity_of_certificate(pem("client.pem"));
  EXPECT_EQ(identity.kind, Kind::kClient);
  EXPECT_EQ(identity.node_id, 0u);
}

TEST_F(Identity, CaGarbageAndEmptyInputAreNobody) {
  EXPECT_EQ(identity_of_certificate(pem("ca.pem")).kind, Kind::kNone);
  EXPECT_EQ(identity_of_certificate(pem("node-1-key.pem")).kind, Kind::kNone);
  EXPECT_EQ(identity_of_certificate("").kind, Kind::kNone);
  EXPECT_EQ(identity_of_certificate("garbage").kind, Kind::kNone);
  std::string truncated = pem("node-1.pem");
  truncated.resize(truncated.size() / 2);
  EXPECT_EQ(identity_of_certificate(truncated).kind, Kind::kNone);
  // Called per request by the server: a refused certificate must not leave errors queued for
  // the next unrelated OpenSSL call to report.
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(Identity, OnlyTheFirstCertificateCounts) {
  CertIdentity identity = identity_of_certificate(pem("node-2.pem") + pem("node-1.pem"));
  EXPECT_EQ(identity.kind, Kind::kNode);
  EXPECT_EQ(identity.node_id, 2u);
}

TEST_F(Identity, MalformedNodeIdsAreNobody) {
  for (std::string id :
       {"abc", "", "+1", "-1", "0", "01", " 1", "1 ", "1a", "0x10", "9223372036854775809",
        "18446744073709551615", "18446744073709551616", "99999999999999999999999"}) {
    std::string cert = make_cert_with_uris({"urn:nomad-lite:node:" + id});
    ASSERT_FALSE(cert.empty());
    EXPECT_EQ(identity_of_certificate(cert).kind, Kind::kNone) << "'" << id << "'";
  }
  std::vector<std::string> uris = {
      "urn:nomad-lite:client2", "URN:nomad-lite:client",
      "urn:nomad-lite:node",    "urn:nomad-lite:",
      "https://example.com",    std::string("urn:nomad-lite:client\0", 22)};
  for (const std::string& uri : uris) {
    EXPECT_EQ(identity_of_certificate(make_cert_with_uris({uri})).kind, Kind::kNone) << uri;
  }
}

TEST_F(Identity, WellFormedHandMadeIdsAreRead) {
  CertIdentity largest = identity_of_certificate(
      make_cert_with_uris({"https://example.com", "urn:nomad-lite:node:9223372036854775808"}));
  EXPECT_EQ(largest.kind, Kind::kNode);
  EXPECT_EQ(largest.node_id, uint64_t{1} << 63);
  CertIdentity repeated = identity_of_certificate(
      make_cert_with_uris({"urn:nomad-lite:node:42", "urn:nomad-lite:node:42"}));
  EXPECT_EQ(repeated.kind, Kind::kNode);
  EXPECT_EQ(repeated.node_id, 42u);
}

TEST_F(Identity, AgentUrisAreAgentsAndNeverNodes) {
  CertIdentity agent = identity_of_certificate(make_cert_with_uris({"urn:nomad-lite:agent:7"}));
  EXPECT_EQ(agent.kind, Kind::kAgent);
  EXPECT_EQ(agent.agent_number, 7u);
  EXPECT_EQ(agent.node_id, 0u);
  EXPECT_EQ(agent.agent_name(), "agent-7");
  for (std::string k : {"", "0", "07", "x", "-1"}) {
    EXPECT_EQ(identity_of_certificate(make_cert_with_uris({"urn:nomad-lite:agent:" + k})).kind,
              Kind::kNone)
        << k;
  }
  // An agent and a node at once, or two agents: ambiguous.
  EXPECT_EQ(identity_of_certificate(
                make_cert_with_uris({"urn:nomad-lite:agent:1", "urn:nomad-lite:node:1"}))
                .kind,
            Kind::kNone);
  EXPECT_EQ(identity_of_certificate(
                make_cert_with_uris({"urn:nomad-lite:agent:1", "urn:nomad-lite:agent:2"}))
                .kind,
            Kind::kNone);
}

TEST_F(Identity, TwoDifferentIdentitiesOrNoneAreNobody) {
  EXPECT_EQ(identity_of_certificate(
                make_cert_with_uris({"urn:nomad-lite:node:1", "urn:nomad-lite:node:2"}))
                .kind,
            Kind::kNone);
  EXPECT_EQ(identity_of_certificate(
                make_cert_with_uris({"urn:nomad-lite:node:1", "urn:nomad-lite:client"}))
                .kind,
            Kind::kNone);
  // The common name says "nomad-lite node 1", but only a subjectAltName is an identity.
  EXPECT_EQ(identity_of_certificate(make_cert_with_uris({})).kind, Kind::kNone);
}

TEST_F(Identity, ReadPemFileReadsAndNamesTheFlagInErrors) {
  std::string out;
  ASSERT_TRUE(read_pem_file(path("ca.pem"), "--tls-ca", &out));
  EXPECT_EQ(out, pem("ca.pem"));

  Status s = read_pem_file("/nonexistent/x.pem", "--tls-cert", &out);
  EXPECT_EQ(s.message(), "--tls-cert /nonexistent/x.pem: cannot read: No such file or directory");

  s = read_pem_file(root_->path(), "--tls-cert", &out);
  EXPECT_NE(s.message().find("--tls-cert " + root_->path() + ": is a directory"), std::string::npos)
      << s.message();

  testing::write_file(root_->file("plain"), "hello\n");
  s = read_pem_file(root_->file("plain"), "--tls-key", &out);
  EXPECT_NE(s.message().find("--tls-key " + root_->file("plain") + ": not a PEM file"),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(out.empty());

  testing::write_file(root_->file("huge"), "-----BEGIN " + std::string(2 << 20, 'A'));
  s = read_pem_file(root_->file("huge"), "--tls-ca", &out);
  EXPECT_NE(s.message().find("larger than 1 MiB"), std::string::npos) << s.message();
}

TEST_F(Identity, KeyMustMatchItsCertificate) {
  Status s = check_key_matches_certificate(pem("node-1.pem"), pem("node-1-key.pem"),
                                           "--tls-cert node-1.pem", "--tls-key node-1-key.pem");
  EXPECT_TRUE(s) << s.message();

  s = check_key_matches_certificate(pem("node-1.pem"), pem("node-2-key.pem"),
                                    "--tls-cert node-1.pem", "--tls-key node-2-key.pem");
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find(
                "--tls-key node-2-key.pem does not match the certificate in --tls-cert node-1.pem"),
            std::string::npos)
      << s.message();

  s = check_key_matches_certificate(pem("node-1.pem"), "junk", "--tls-cert c", "--tls-key k");
  EXPECT_NE(s.message().find("--tls-key k: no usable private key"), std::string::npos)
      << s.message();
  s = check_key_matches_certificate("junk", pem("node-1-key.pem"), "--tls-cert c", "--tls-key k");
  EXPECT_NE(s.message().find("--tls-cert c: no certificate found"), std::string::npos)
      << s.message();
}

TEST_F(Identity, EncryptedKeyIsRefusedWithoutAskingForAPassphrase) {
  PkeyPtr key = testing::load_key(path("node-1-key.pem"));
  ASSERT_TRUE(key);
  BioPtr bio(BIO_new(BIO_s_mem()));
  char passphrase[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), passphrase,
                                          sizeof(passphrase) - 1, nullptr, nullptr),
            1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  std::string encrypted(data, static_cast<size_t>(size));
  ASSERT_NE(encrypted.find("ENCRYPTED PRIVATE KEY"), std::string::npos);

  Status s =
      check_key_matches_certificate(pem("node-1.pem"), encrypted, "--tls-cert c", "--tls-key k");
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("unencrypted"), std::string::npos) << s.message();
}

TEST_F(Identity, CertificateMustChainToTheGivenCa) {
  for (const std::string& name : {std::string("node-1.pem"), std::string("client.pem")}) {
    Status s = check_certificate_chains_to(pem(name), pem("ca.pem"), "--tls-cert " + name,
                                           "--tls-ca ca.pem");
    EXPECT_TRUE(s) << s.message();
  }

  std::string other_ca = read_file(root_->file("other/ca.pem"));
  Status s = check_certificate_chains_to(pem("node-1.pem"), other_ca, "--tls-cert node.pem",
                                         "--tls-ca ca.pem");
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("--tls-cert node.pem is not signed by the CA in --tls-ca ca.pem"),
            std::string::npos)
      << s.message();

  // A bundle of CAs: any of them may be the issuer.
  s = check_certificate_chains_to(pem("node-1.pem"), other_ca + pem("ca.pem"), "--tls-cert c",
                                  "--tls-ca bundle.pem");
  EXPECT_TRUE(s) << s.message();

  s = check_certificate_chains_to(pem("node-1.pem"), "junk", "--tls-cert c", "--tls-ca x");
  EXPECT_NE(s.message().find("--tls-ca x: no CA certificate found"), std::string::npos)
      << s.message();
  s = check_certificate_chains_to("junk", pem("ca.pem"), "--tls-cert c", "--tls-ca x");
  EXPECT_NE(s.message().find("--tls-cert c: no certificate found"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace nomad::tls
