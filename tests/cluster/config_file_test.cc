// Real processes: a node started with nothing but `--config FILE` serves, the shipped example
// file checks out against real TLS and token files with --check-config, and `--version` runs.

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cluster_harness.h"
#include "support/temp_dir.h"

namespace nomad::testing {
namespace {

TEST(ConfigFileProcess, ANodeStartedWithOnlyAConfigFileServes) {
  TempDir dir("config-node");
  chmod(dir.path().c_str(), 0711);  // a root server's jobs (nobody) reach their directories
  const int port = free_port(), dashboard = free_port();
  const std::string config = dir.file("server.toml");
  std::ofstream(config) << "# one node, all from this file\n"
                        << "node-id = 1\n"
                        << "port = " << port << "\n"
                        << "dashboard-port = " << dashboard << "\n"
                        << "data-dir = \"" << dir.file("data") << "\"\n"
                        << "worker-slots = 1\n"
                        << "election-timeout = \"300ms\"\n"
                        << "heartbeat-interval = \"100ms\"\n";
  Subprocess server({NOMAD_LITE_BIN, "server", "--config", config});

  httplib::Client http("127.0.0.1", dashboard);
  http.set_connection_timeout(1);
  http.set_read_timeout(2);
  ASSERT_TRUE(wait_until(
      [&] {
        auto res = http.Get("/health/ready");
        return res && res->status == 200;
      },
      20s))
      << "the node never knew a leader; its log: " << server.err();

  const std::string address = "127.0.0.1:" + std::to_string(port);
  RunResult submit = run_bounded({NOMAD_LITE_BIN, "--addr", address, "-o", "json", "job", "submit",
                                  "--wait", "--", "echo", "from-config"},
                                 30s);
  EXPECT_EQ(submit.exit_code, 0) << submit.err;
  auto job = nlohmann::json::parse(submit.out, nullptr, false);
  ASSERT_TRUE(job.is_object()) << submit.out;
  EXPECT_EQ(job.value("status", ""), "completed") << submit.out;
  EXPECT_EQ(job.value("command", ""), "echo from-config") << submit.out;
  // The data directory is the file's.
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("data") + "/wal"));
}

TEST(ConfigFileProcess, TheShippedExampleChecksOutWithRealTlsAndTokenFiles) {
  TempDir dir("config-example");
  const std::string pki = dir.file("pki");
  RunResult init = run_command({NOMAD_LITE_BIN, "tls", "init", pki, "--nodes", "3"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  const std::string example = std::string(NOMAD_SOURCE_DIR) + "/packaging/server.toml.example";
  auto check = [&](const std::string& key) {
    return run_bounded(
        {NOMAD_LITE_BIN, "server", "--config", example, "--tls-cert", pki + "/node-1.pem",
         "--tls-key", pki + "/" + key, "--tls-ca", pki + "/ca.pem", "--token-file", pki + "/tokens",
         "--data-dir", dir.file("data"), "--check-config"},
        10s);
  };
  RunResult ok = check("node-1-key.pem");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("configuration OK: node 1, gRPC on 0.0.0.0:50051 (advertised as "
                        "node1.example:50051), dashboard 8080, peers "
                        "2:node2.example:50051,3:node3.example:50051"),
            std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("TLS, client tokens"), std::string::npos) << ok.out;
  // Nothing was started or written.
  EXPECT_FALSE(std::filesystem::exists(dir.file("data")));

  RunResult wrong_key = check("node-2-key.pem");
  EXPECT_EQ(wrong_key.exit_code, 2);
  EXPECT_NE(wrong_key.err.find("--tls-key"), std::string::npos) << wrong_key.err;
  EXPECT_EQ(std::count(wrong_key.err.begin(), wrong_key.err.end(), '\n'), 1) << wrong_key.err;
}

TEST(ConfigFileProcess, VersionPrintsOneLine) {
  RunResult r = run_command({NOMAD_LITE_BIN, "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("nomad-lite ", 0), 0u) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  RunResult json = run_command({NOMAD_LITE_BIN, "version", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out.rfind("{\"build_type\":", 0), 0u) << json.out;
}

}  // namespace
}  // namespace nomad::testing
