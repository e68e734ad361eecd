// The security flags of the server and the client.

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "cli/args.h"
#include "cli/tls_init.h"
#include "tls/dev_pki.h"

namespace nomad::cli {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace security_args_test {

Invocation parse_ok(const std::vector<std::string>& args) {
  ParsedArgs parsed = parse_args(args);
  EXPECT_TRUE(parsed.invocation.has_value()) << parsed.error;
  return parsed.invocation.value_or(Invocation{});
}

std::string usage_error(const std::vector<std::string>& args) {
  ParsedArgs parsed = parse_args(args);
  EXPECT_FALSE(parsed.invocation.has_value());
  EXPECT_EQ(parsed.exit_code, 2);
  return parsed.error;
}

TEST(SecurityArgs, TlsFlagsGoTogether) {
  EXPECT_NE(usage_error({"server", "--tls-cert", "a.pem"})
                .find("--tls-cert, --tls-key and --tls-ca go together"),
            std::string::npos);
  EXPECT_NE(
      usage_error({"server", "--tls-cert", "a.pem", "--tls-key", "k.pem"}).find("go together"),
      std::string::npos);
  Invocation inv = parse_ok({"server", "--tls-cert", "a.pem", "--tls-key", "k.pem", "--tls-ca",
                             "ca.pem", "--token-file", "tokens"});
  EXPECT_EQ(inv.server.tls_cert, "a.pem");
  EXPECT_EQ(inv.server.tls_key, "k.pem");
  EXPECT_EQ(inv.server.tls_ca, "ca.pem");
  EXPECT_EQ(inv.server.token_file, "tokens");
}

TEST(SecurityArgs, BeyondLoopbackNeedsTlsAndTokensOrInsecure) {
  const std::vector<std::string> tls = {"--tls-cert", "a.pem",    "--tls-key",
                                        "k.pem",      "--tls-ca", "ca.pem"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  // TLS alone or tokens alone is not enough: tokens would travel in clear text, or anyone
  // with a certificate (every client) could submit.
  std::string e = usage_error(with({"server", "--bind", "0.0.0.0"}, tls));
  EXPECT_NE(e.find("without TLS and client tokens"), std::string::npos) << e;
  EXPECT_NE(e.find("nomad-lite tls init DIR"), std::string::npos) << e;
  usage_error({"server", "--bind", "0.0.0.0", "--token-file", "t"});
  // Both: allowed, and nothing to warn of.
  Invocation inv = parse_ok(with({"server", "--bind", "0.0.0.0", "--token-file", "t"}, tls));
  EXPECT_FALSE(inv.server.insecure);
  EXPECT_FALSE(
      parse_ok(with({"server", "--bind", "0.0.0.0", "--insecure", "--token-file", "t"}, tls))
          .server.insecure);
  // --insecure with only one of them still warns.
  EXPECT_TRUE(
      parse_ok({"server", "--bind", "0.0.0.0", "--insecure", "--token-file", "t"}).server.insecure);
}

TEST(SecurityArgs, ClientCertificatesAndToken) {
  auto dir = std::filesystem::temp_directory_path() / ("nomad-args-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  tls::DevPkiOptions pki;
  pki.dir = dir.string();
  pki.nodes = 1;
  ASSERT_TRUE(tls::init_dev_pki(pki).is_ok());
  std::string ca = (dir / "ca.pem").string(), cert = (dir / "client.pem").string(),
              key = (dir / "client-key.pem").string();

  Invocation inv = parse_ok({"cluster", "--ca-cert", ca, "--cert", cert, "--key", key, "--token",
                             "tok-0123456789abcdef"});
  EXPECT_TRUE(inv.client.security.tls.enabled());
  EXPECT_NE(inv.client.security.tls.cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(inv.client.security.bearer_token, "tok-0123456789abcdef");

  EXPECT_EQ(usage_error({"cluster", "--ca-cert", ca, "--cert", cert}),
            "nomad-lite: --cert and --key go together: give both, or neither");
  EXPECT_NE(usage_error({"cluster", "--cert", cert, "--key", key}).find("give --ca-cert too"),
            std::string::npos);
  EXPECT_NE(usage_error({"cluster", "--ca-cert", (dir / "none.pem").string()})
                .find("--ca-cert " + (dir / "none.pem").string()),
            std::string::npos);
  // A key that is not the certificate's.
  std::string e = usage_error(
      {"cluster", "--ca-cert", ca, "--cert", cert, "--key", (dir / "node-1-key.pem").string()});
  EXPECT_NE(e.find("--key"), std::string::npos) << e;

  Invocation init =
      parse_ok({"tls", "init", "certs", "--nodes", "5", "--hosts", "a.example,10.0.0.5"});
  EXPECT_EQ(init.command, Command::kTlsInit);
  EXPECT_EQ(init.tls_init.dir, "certs");
  EXPECT_EQ(init.tls_init.nodes, 5);
  EXPECT_EQ(init.tls_init.hosts, (std::vector<std::string>{"a.example", "10.0.0.5"}));
  std::filesystem::remove_all(dir);
}

TEST(SecurityArgs, TlsInitSaysWhatItWroteAndRefusesToOverwrite) {
  auto dir =
      std::filesystem::temp_directory_path() / ("nomad-tls-init-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  tls::DevPkiOptions options;
  options.dir = dir.string();
  options.nodes = 2;
  std::ostringstream out, err;
  ASSERT_EQ(run_tls_init(options, out, err), 0) << err.str();
  for (const char* name : {"ca.pem", "node-1.pem", "node-2-key.pem", "client.pem", "tokens"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / name)) << name;
    EXPECT_NE(out.str().find(name), std::string::npos) << name;
  }
  EXPECT_EQ(out.str().find("node-3.pem"), std::string::npos);
  EXPECT_NE(out.str().find("--tls-cert " + dir.string() + "/node-1.pem"), std::string::npos);

  std::ostringstream out2, err2;
  EXPECT_EQ(run_tls_init(options, out2, err2), 1);
  EXPECT_EQ(err2.str().rfind("nomad-lite: tls init: ", 0), 0u) << err2.str();
  EXPECT_NE(err2.str().find("--force"), std::string::npos) << err2.str();
  std::filesystem::remove_all(dir);
}

}  // namespace security_args_test
}  // namespace nomad::cli
