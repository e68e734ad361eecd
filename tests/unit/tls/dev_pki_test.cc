#include "tls/dev_pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "pki_test_util.h"
#include "tls/identity.h"

namespace nomad::tls {
namespace {

using testing::alt_names;
using testing::file_mode;
using testing::load_cert;
using testing::load_key;
using testing::read_file;
using testing::snapshot;
using testing::TempDir;
using testing::verifies;

// The files a three-node init writes, with the mode each must have.
std::map<std::string, int> expected_files(int nodes) {
  std::map<std::string, int> files = {{"ca.pem", 0644},
                                      {"ca-key.pem", 0600},
                                      {"client.pem", 0644},
                                      {"client-key.pem", 0600},
                                      {"tokens", 0600}};
  for (int i = 1; i <= nodes; ++i) {
    files[node_cert_file(i)] = 0644;
    files[node_key_file(i)] = 0600;
  }
  return files;
}

std::vector<std::string> leaf_names(int nodes) {
  std::vector<std::string> names = {"client"};
  for (int i = 1; i <= nodes; ++i) names.push_back("node-" + std::to_string(i));
  return names;
}

bool extension_is_critical(X509* cert, int nid) {
  int index = X509_get_ext_by_NID(cert, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

class DevPki : public ::testing::Test {
 protected:
  DevPkiOptions options(const std::string& subdir = "pki") {
    DevPkiOptions o;
    o.dir = root_.file(subdir);
    return o;
  }
  std::string file(const std::string& name) { return root_.file("pki/" + name); }

  TempDir root_;
};

class DevPkiUnderUmask : public DevPki, public ::testing::WithParamInterface<mode_t> {};

TEST_P(DevPkiUnderUmask, WritesEveryFileWithItsModeWhateverTheUmask) {
  mode_t previous = umask(GetParam());
  Status s = init_dev_pki(options());
  umask(previous);
  ASSERT_TRUE(s) << s.message();

  EXPECT_EQ(file_mode(root_.file("pki")), 0700);
  std::map<std::string, int> expected = expected_files(3);
  std::map<std::string, std::string> written = snapshot(root_.file("pki"));
  std::set<std::string> names;
  for (const auto& [name, contents] : written) names.insert(name);
  std::set<std::string> expected_names;
  for (const auto& [name, mode] : expected) expected_names.insert(name);
  EXPECT_EQ(names, expected_names) << "no temporary files may be left behind";
  for (const auto& [name, mode] : expected) {
    EXPECT_EQ(file_mode(file(name)), mode) << name;
  }
  for (const std::string& name : leaf_names(3)) {
    EXPECT_TRUE(written[name + ".pem"].starts_with("-----BEGIN CERTIFICATE-----\n")) << name;
    EXPECT_TRUE(written[name + "-key.pem"].starts_with("-----BEGIN PRIVATE KEY-----\n")) << name;
  }
  EXPECT_TRUE(written["ca-key.pem"].starts_with("-----BEGIN PRIVATE KEY-----\n"));
}

INSTANTIATE_TEST_SUITE_P(Umasks, DevPkiUnderUmask, ::testing::Values(0, 022, 077));

TEST_F(DevPki, CaIsASelfSignedP256CertificateAuthority) {
  ASSERT_TRUE(init_dev_pki(options()));
  X509Ptr ca = load_cert(file("ca.pem"));
  ASSERT_TRUE(ca);

  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, cn, sizeof(cn));
  EXPECT_STREQ(cn, "nomad-lite development CA");
  EXPECT_TRUE(verifies(ca.get(), ca.get()));
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(extension_is_critical(ca.get(), NID_basic_constraints));
  EXPECT_TRUE(extension_is_critical(ca.get(), NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);

  PkeyPtr key = load_key(file("ca-key.pem"));
  ASSERT_TRUE(key);
  char group[64] = {};
  ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group, sizeof(group), nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_check_private_key(ca.get(), key.get()), 1);
}

TEST_F(DevPki, LeafCertificatesVerifyAgainstTheirCaAndNotAnother) {
  ASSERT_TRUE(init_dev_pki(options()));
  ASSERT_TRUE(init_dev_pki(options("other")));
  X509Ptr ca = load_cert(file("ca.pem"));
  X509Ptr other_ca = load_cert(root_.file("other/ca.pem"));
  ASSERT_TRUE(ca && other_ca);

  std::set<std::string> serials;
  for (const std::string& name : leaf_names(3)) {
    X509Ptr cert = load_cert(file(name + ".pem"));
    ASSERT_TRUE(cert) << name;
    EXPECT_TRUE(verifies(cert.get(), ca.get())) << name;
    EXPECT_FALSE(verifies(cert.get(), other_ca.get())) << name;
    EXPECT_EQ(X509_check_ca(cert.get()), 0) << name << " must not be able to issue certificates";
    EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
    ASSERT_NE(X509_get0_authority_key_id(cert.get()), nullptr) << name;
    EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert.get()),
                                    X509_get0_subject_key_id(ca.get())),
              0)
        << name;

    BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
    ASSERT_TRUE(serial);
    EXPECT_EQ(BN_num_bits(serial.get()), 128) << name;
    char* hex = BN_bn2hex(serial.get());
    serials.insert(hex);
    OPENSSL_free(hex);
  }
  EXPECT_EQ(serials.size(), 4u) << "serials must differ";

  // Nodes both accept (server) and make (client) connections; the CLI's certificate only
  // makes them, so it must not pass as a server.
  for (int i = 1; i <= 3; ++i) {
    X509Ptr node = load_cert(file(node_cert_file(i)));
    EXPECT_TRUE(verifies(node.get(), ca.get(), X509_PURPOSE_SSL_SERVER)) << i;
    EXPECT_TRUE(verifies(node.get(), ca.get(), X509_PURPOSE_SSL_CLIENT)) << i;
    char cn[128] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(node.get()), NID_commonName, cn, sizeof(cn));
    EXPECT_EQ(std::string(cn), "nomad-lite node " + std::to_string(i));
  }
  X509Ptr client = load_cert(file("client.pem"));
  EXPECT_TRUE(verifies(client.get(), ca.get(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_FALSE(verifies(client.get(), ca.get(), X509_PURPOSE_SSL_SERVER));
}

TEST_F(DevPki, EveryKeyMatchesItsCertificateOnly) {
  ASSERT_TRUE(init_dev_pki(options()));
  for (const std::string& name : leaf_names(3)) {
    X509Ptr cert = load_cert(file(name + ".pem"));
    PkeyPtr key = load_key(file(name + "-key.pem"));
    ASSERT_TRUE(cert && key) << name;
    EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1) << name;
  }
  X509Ptr node2 = load_cert(file("node-2.pem"));
  PkeyPtr key1 = load_key(file("node-1-key.pem"));
  EXPECT_EQ(X509_check_private_key(node2.get(), key1.get()), 0);
  ERR_clear_error();
}

TEST_F(DevPki, NodeCertificatesNameLoopbackAndTheExtraHosts) {
  DevPkiOptions o = options();
  o.hosts = {"10.0.0.5", "node1.example", "[fd00::1]", "localhost", "127.0.0.1"};
  ASSERT_TRUE(init_dev_pki(o));
  for (int i = 1; i <= 3; ++i) {
    X509Ptr node = load_cert(file(node_cert_file(i)));
    ASSERT_TRUE(node);
    std::vector<std::string> expected = {"URI:urn:nomad-lite:node:" + std::to_string(i),
                                         "DNS:localhost",
                                         "IP:127.0.0.1",
                                         "IP:::1",
                                         "IP:10.0.0.5",
                                         "DNS:node1.example",
                                         "IP:fd00::1"};
    EXPECT_EQ(alt_names(node.get()), expected) << "node " << i;
    EXPECT_EQ(X509_check_ip_asc(node.get(), "10.0.0.5", 0), 1);
    EXPECT_EQ(X509_check_host(node.get(), "node1.example", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_host(node.get(), "other.example", 0, 0, nullptr), 0);
  }
  X509Ptr client = load_cert(file("client.pem"));
  EXPECT_EQ(alt_names(client.get()), std::vector<std::string>{"URI:urn:nomad-lite:client"});
}

TEST_F(DevPki, TokensFileHoldsOneDistinctTokenPerRole) {
  ASSERT_TRUE(init_dev_pki(options()));
  std::string contents = read_file(file("tokens"));
  EXPECT_NE(contents.find("# Format: one token per line: ROLE TOKEN; roles: metrics (GET /metrics "
                          "only), read,"),
            std::string::npos);

  std::vector<std::string> roles;
  std::set<std::string> tokens;
  std::istringstream lines(contents);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string role, token, extra;
    fields >> role >> token;
    EXPECT_FALSE(fields >> extra) << line;
    EXPECT_EQ(token.size(), 64u) << line;
    EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << line;
    roles.push_back(role);
    tokens.insert(token);
  }
  EXPECT_EQ(roles, (std::vector<std::string>{"operator", "submit", "read", "metrics"}));
  EXPECT_EQ(tokens.size(), 4u);
}

TEST_F(DevPki, RefusesToOverwriteWithoutForceAndChangesNothing) {
  ASSERT_TRUE(init_dev_pki(options()));
  auto before = snapshot(root_.file("pki"));

  Status s = init_dev_pki(options());
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find(file("ca.pem") + " already exists"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--force"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("another directory"), std::string::npos) << s.message();
  EXPECT_EQ(snapshot(root_.file("pki")), before);
}

TEST_F(DevPki, AnyOneExistingFileBlocksTheWholeSet) {
  ASSERT_EQ(mkdir(root_.file("pki").c_str(), 0755), 0);
  testing::write_file(file("node-2-key.pem"), "keep me");

  Status s = init_dev_pki(options());
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find(file("node-2-key.pem")), std::string::npos) << s.message();
  EXPECT_EQ(snapshot(root_.file("pki")),
            (std::map<std::string, std::string>{{"node-2-key.pem", "keep me"}}));
  EXPECT_EQ(file_mode(root_.file("pki")), 0755) << "an existing directory is left as it is";
}

TEST_F(DevPki, ForceReplacesEveryFileAndRestoresModes) {
  ASSERT_TRUE(init_dev_pki(options()));
  auto before = snapshot(root_.file("pki"));
  X509Ptr old_ca = load_cert(file("ca.pem"));
  ASSERT_EQ(chmod(file("ca-key.pem").c_str(), 0644), 0);
  ASSERT_EQ(chmod(file("node-1.pem").c_str(), 0600), 0);

  DevPkiOptions o = options();
  o.force = true;
  Status s = init_dev_pki(o);
  ASSERT_TRUE(s) << s.message();

  auto after = snapshot(root_.file("pki"));
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [name, contents] : before) {
    EXPECT_NE(after[name], contents) << name << " was not replaced";
  }
  for (const auto& [name, mode] : expected_files(3)) {
    EXPECT_EQ(file_mode(file(name)), mode) << name;
  }
  X509Ptr ca = load_cert(file("ca.pem"));
  X509Ptr node = load_cert(file("node-1.pem"));
  EXPECT_TRUE(verifies(node.get(), ca.get()));
  EXPECT_FALSE(verifies(node.get(), old_ca.get()));
}

TEST_F(DevPki, NodeCountMustBeOneTo99) {
  for (int nodes : {0, -1, 100}) {
    DevPkiOptions o = options();
    o.nodes = nodes;
    Status s = init_dev_pki(o);
    ASSERT_FALSE(s) << nodes;
    EXPECT_NE(s.message().find("--nodes"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("1 to 99"), std::string::npos) << s.message();
    EXPECT_EQ(file_mode(root_.file("pki")), -1) << "nothing may be created";
  }
  DevPkiOptions o = options();
  o.nodes = 99;
  ASSERT_TRUE(init_dev_pki(o));
  EXPECT_EQ(snapshot(root_.file("pki")).size(), expected_files(99).size());
  CertIdentity identity = identity_of_certificate(read_file(file("node-99.pem")));
  EXPECT_EQ(identity.kind, CertIdentity::Kind::kNode);
  EXPECT_EQ(identity.node_id, 99u);
}

TEST_F(DevPki, AgentCertificatesNameAnAgentAndChainToTheCa) {
  DevPkiOptions o = options();
  o.agents = 2;
  ASSERT_TRUE(init_dev_pki(o));
  for (int k : {1, 2}) {
    const std::string pem = read_file(file(agent_cert_file(k)));
    CertIdentity identity = identity_of_certificate(pem);
    EXPECT_EQ(identity.kind, CertIdentity::Kind::kAgent) << k;
    EXPECT_EQ(identity.agent_number, static_cast<uint64_t>(k));
    EXPECT_EQ(identity.agent_name(), "agent-" + std::to_string(k));
    EXPECT_EQ(identity.node_id, 0u) << "an agent's certificate names no node";
    EXPECT_TRUE(check_certificate_chains_to(pem, read_file(file("ca.pem")), "agent", "ca"));
    EXPECT_EQ(file_mode(file(agent_key_file(k))), 0600);
  }
  EXPECT_EQ(file_mode(file(agent_cert_file(3))), -1);
}

TEST_F(DevPki, AgentCountMustBeZeroTo999) {
  for (int agents : {-1, 1000}) {
    DevPkiOptions o = options();
    o.agents = agents;
    Status s = init_dev_pki(o);
    ASSERT_FALSE(s) << agents;
    EXPECT_NE(s.message().find("--agents"), std::string::npos) << s.message();
    EXPECT_EQ(file_mode(root_.file("pki")), -1) << "nothing may be created";
  }
}

TEST_F(DevPki, RejectsBadHostsAndValidityBeforeWritingAnything) {
  std::vector<std::string> bad_hosts = {"bad host", "", "a,b", "[10.0.0.1]", std::string(254, 'a')};
  for (const std::string& host : bad_hosts) {
    DevPkiOptions o = options();
    o.hosts = {"ok.example", host};
    Status s = init_dev_pki(o);
    ASSERT_FALSE(s) << host;
    EXPECT_NE(s.message().find("--hosts: '" + host + "'"), std::string::npos) << s.message();
  }
  for (int days : {0, 36501}) {
    DevPkiOptions o = options();
    o.valid_days = days;
    EXPECT_FALSE(init_dev_pki(o)) << days;
  }
  EXPECT_EQ(file_mode(root_.file("pki")), -1) << "nothing may be created";
}

TEST_F(DevPki, ADirectoryThatIsAFileIsAnError) {
  testing::write_file(root_.file("pki"), "");
  Status s = init_dev_pki(options());
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("is not a directory"), std::string::npos) << s.message();
  EXPECT_FALSE(init_dev_pki(DevPkiOptions{}));
}

}  // namespace
}  // namespace nomad::tls
