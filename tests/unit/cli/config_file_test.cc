// `nomad-lite server --config FILE`: file values reach the server's config, flags on the command
// line win, and every kind of bad file is one line naming the file, the line and the key.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>

#include "cli/args.h"
#include "support/temp_dir.h"

namespace nomad::cli {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace config_file_test {

class ConfigFile : public ::testing::Test {
 protected:
  // Writes `text` to a file of the test's directory and returns its path.
  std::string write(const std::string& text, const std::string& name = "server.toml") {
    std::string path = dir_.file(name);
    std::ofstream(path) << text;
    return path;
  }

  Invocation parse_ok(const std::vector<std::string>& args) {
    ParsedArgs parsed = parse_args(args);
    EXPECT_TRUE(parsed.invocation.has_value()) << parsed.error;
    return parsed.invocation.value_or(Invocation{});
  }

  // The one-line usage error (exit code 2) parsing `args` gives.
  std::string error_of(const std::vector<std::string>& args) {
    ParsedArgs parsed = parse_args(args);
    EXPECT_FALSE(parsed.invocation.has_value());
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_EQ(parsed.error.find('\n'), std::string::npos) << parsed.error;
    return parsed.error;
  }

  // The error of a server started with only `--config FILE` holding `text`.
  std::string error_of_file(const std::string& text) {
    return error_of({"server", "--config", write(text)});
  }

  ::nomad::testing::TempDir dir_{"config-file"};
};

#define EXPECT_HAS(haystack, needle)                               \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "'" << (haystack) << "' does not mention '" << (needle) << "'"

TEST_F(ConfigFile, ValuesOfEveryTypeReachTheConfig) {
  Invocation inv = parse_ok({"server", "--config", write(R"(# a node of three
node-id = 2
port = 6000
dashboard-port = 6001
peers = "1:10.0.0.1:6000,3:10.0.0.3:6000"
bind = "0.0.0.0"
insecure = true
data-dir = "/var/lib/nomad-lite"
election-timeout = "1s"
heartbeat-interval = "100ms"
log-level = "debug"
worker-slots = 0
snapshot-entries = 500
executor = "sandbox"
retain-for = "2d"
)")});
  ASSERT_EQ(inv.command, Command::kServer);
  const auto& c = inv.server;
  EXPECT_EQ(c.node_id, 2u);
  EXPECT_EQ(c.port, 6000);
  EXPECT_EQ(c.dashboard_port, 6001);
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[1].address(), "10.0.0.3:6000");
  EXPECT_EQ(c.bind, "0.0.0.0");
  EXPECT_TRUE(c.insecure);
  EXPECT_EQ(c.effective_data_dir(), "/var/lib/nomad-lite");
  EXPECT_EQ(c.election_timeout, Millis(1000));
  EXPECT_EQ(c.heartbeat_interval, Millis(100));
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.worker_slots, 0);
  EXPECT_EQ(c.snapshot_entries, 500u);
  EXPECT_EQ(c.executor, common::Isolation::kSandbox);
  EXPECT_EQ(c.retain_for, Millis(2 * 24 * 3600 * 1000));
  EXPECT_FALSE(inv.check_config);
}

TEST_F(ConfigFile, FlagsOnTheCommandLineOverrideTheFile) {
  std::string file = write("node-id = 2\nport = 6000\nlog-level = \"debug\"\nworker-slots = 4\n");
  Invocation inv = parse_ok({"server", "--port", "7000", "--config", file, "--log-level=warn"});
  EXPECT_EQ(inv.server.node_id, 2u);  // from the file
  EXPECT_EQ(inv.server.port, 7000);   // the flag, given before --config
  EXPECT_EQ(inv.server.log_level, "warn");
  EXPECT_EQ(inv.server.worker_slots, 4);
  // A flag turned off on the command line beats the file's true.
  inv = parse_ok({"server", "--config", write("insecure = true\n"), "--insecure=false"});
  EXPECT_FALSE(inv.server.insecure);
}

TEST_F(ConfigFile, TheBareServerFormAndCheckConfigTakeItToo) {
  Invocation inv = parse_ok({"--config", write("node-id = 3\n"), "--check-config"});
  ASSERT_EQ(inv.command, Command::kServer);
  EXPECT_EQ(inv.server.node_id, 3u);
  EXPECT_TRUE(inv.check_config);
}

TEST_F(ConfigFile, TheServersOwnChecksStillApplyToFileValues) {
  EXPECT_HAS(error_of_file("election-timeout = \"100ms\"\nheartbeat-interval = \"200ms\"\n"),
             "--heartbeat-interval (200ms) must be shorter than --election-timeout (100ms)");
  EXPECT_HAS(error_of_file("bind = \"0.0.0.0\"\n"), "--bind 0.0.0.0: refusing");
  EXPECT_HAS(error_of_file("peers = \"1:127.0.0.1:50052\"\n"), "peers");
}

TEST_F(ConfigFile, AnUnreadableFileOrADirectoryIsNamed) {
  std::string missing = dir_.file("nope.toml");
  std::string error = error_of({"server", "--config", missing});
  EXPECT_HAS(error, "--config " + missing + ": cannot read it (No such file or directory)");
  EXPECT_HAS(error, "check the path");
  EXPECT_HAS(error_of({"server", "--config", dir_.path()}), "is a directory");
  if (geteuid() != 0) {  // root reads any file
    std::string locked = write("node-id = 1\n", "locked.toml");
    chmod(locked.c_str(), 0);
    EXPECT_HAS(error_of({"server", "--config", locked}), "Permission denied");
  }
}

TEST_F(ConfigFile, ASyntaxErrorNamesTheFileLineAndColumn) {
  std::string file = write("node-id = 1\nport = what\n");
  std::string error = error_of({"server", "--config", file});
  EXPECT_HAS(error, file + ":2:");
  EXPECT_HAS(error, "must be TOML");
  EXPECT_HAS(error_of_file("node-id = 1\npeers = \"2:h:1\n"), ":2:");  // unterminated string
}

TEST_F(ConfigFile, AKeyGivenTwiceIsRefusedAtItsSecondLine) {
  std::string file = write("node-id = 1\nport = 6000\n\nport = 6001\n");
  std::string error = error_of({"server", "--config", file});
  EXPECT_HAS(error, file + ":4:");
  EXPECT_HAS(error, "'port'");
  EXPECT_HAS(error, "a key is given twice: keep one");
}

TEST_F(ConfigFile, AnUnknownKeyIsRefusedWithTheClosestFlag) {
  std::string file = write("node-id = 1\nprot = 6000\n");
  std::string error = error_of({"server", "--config", file});
  EXPECT_HAS(error, file + ":2: unknown key 'prot'");
  EXPECT_HAS(error, "did you mean 'port'?");
  EXPECT_HAS(error_of_file("node_id = 1\n"), "did you mean 'node-id'?");
  EXPECT_HAS(error_of_file("dashbord-port = 8080\n"), "did you mean 'dashboard-port'?");
  std::string far = error_of_file("colour = \"blue\"\n");
  EXPECT_HAS(far, "unknown key 'colour'");
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
  // A client flag is no server key either.
  EXPECT_HAS(error_of_file("addr = \"127.0.0.1:50051\"\n"), "unknown key 'addr'");
}

TEST_F(ConfigFile, AValueOfTheWrongTypeSaysHowToWriteIt) {
  EXPECT_HAS(error_of_file("node-id = \"2\"\n"),
             ":1: 'node-id' is a string, but it takes a whole number: write it as node-id = 1");
  EXPECT_HAS(error_of_file("\nelection-timeout = 300\n"),
             ":2: 'election-timeout' is a whole number, but it takes a string in double quotes: "
             "write it as election-timeout = \"150ms\"");
  EXPECT_HAS(error_of_file("insecure = \"yes\"\n"),
             "'insecure' is a string, but it takes true or false: write it as insecure = true");
  EXPECT_HAS(error_of_file("port = 50051.5\n"), "'port' is a decimal number");
  EXPECT_HAS(error_of_file("peers = [\"2:h:1\"]\n"), "'peers' is an array");
  EXPECT_HAS(error_of_file("port = 70000\n"), ":1: 'port': 70000 is out of range for --port");
  EXPECT_HAS(error_of_file("node-id = -1\n"), "'node-id': -1 is out of range for --node-id");
  EXPECT_HAS(error_of_file("data-dir = \"/var/\\u0000lib\"\n"), "'data-dir' holds a NUL character");
}

TEST_F(ConfigFile, SectionsAndCommandLineOnlyKeysAreRefused) {
  EXPECT_HAS(error_of_file("node-id = 1\n[server]\nport = 1\n"),
             ":2: [server] (or a dotted key server.x): the file has no sections");
  EXPECT_HAS(error_of_file("server.port = 1\n"), ":1: [server] (or a dotted key server.x)");
  EXPECT_HAS(error_of_file("config = \"other.toml\"\n"),
             "'config' belongs on the command line only");
  EXPECT_HAS(error_of_file("check-config = true\n"), "'check-config' belongs on the command line");
}

TEST_F(ConfigFile, AnEmptyFileLeavesTheDefaults) {
  Invocation inv = parse_ok({"server", "--config", write("# nothing yet\n")});
  EXPECT_EQ(inv.server.node_id, 1u);
  EXPECT_EQ(inv.server.port, 50051);
}

// The example shipped for the systemd unit parses, and names every flag of the server.
TEST_F(ConfigFile, TheShippedExampleParsesAndNamesEveryServerFlag) {
  const std::string example = std::string(NOMAD_SOURCE_DIR) + "/packaging/server.toml.example";
  Invocation inv = parse_ok({"server", "--config", example});
  EXPECT_EQ(inv.server.node_id, 1u);
  EXPECT_EQ(inv.server.bind, "0.0.0.0");
  EXPECT_FALSE(inv.server.tls_cert.empty());
  EXPECT_FALSE(inv.server.token_file.empty());
  EXPECT_EQ(inv.server.effective_data_dir(), "/var/lib/nomad-lite");

  std::ifstream in(example);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string help = parse_args({"server", "--help"}).out;
  std::set<std::string> flags;
  std::regex flag_re("\n  (?:-[a-zA-Z],)?--([a-z][a-z-]+)");  // the options, not their text
  for (auto it = std::sregex_iterator(help.begin(), help.end(), flag_re);
       it != std::sregex_iterator(); ++it) {
    flags.insert((*it)[1]);
  }
  ASSERT_GT(flags.size(), 20u) << help;
  for (const std::string& flag : flags) {
    if (flag == "help" || flag == "config" || flag == "check-config") continue;
    std::regex key_re("(^|\n)(# )?" + flag + " = ");
    EXPECT_TRUE(std::regex_search(text, key_re)) << "the example does not show " << flag;
  }
}

TEST(Version, BothFormsAndJson) {
  ParsedArgs parsed = parse_args({"--version"});
  ASSERT_TRUE(parsed.invocation.has_value()) << parsed.error;
  EXPECT_EQ(parsed.invocation->command, Command::kVersion);
  EXPECT_FALSE(parsed.invocation->version_json);
  parsed = parse_args({"version"});
  ASSERT_TRUE(parsed.invocation.has_value()) << parsed.error;
  EXPECT_EQ(parsed.invocation->command, Command::kVersion);
  parsed = parse_args({"version", "--json"});
  ASSERT_TRUE(parsed.invocation.has_value()) << parsed.error;
  EXPECT_TRUE(parsed.invocation->version_json);
  parsed = parse_args({"-o", "json", "version"});
  ASSERT_TRUE(parsed.invocation.has_value()) << parsed.error;
  EXPECT_TRUE(parsed.invocation->version_json);
  parsed = parse_args({"version", "extra"});
  EXPECT_EQ(parsed.exit_code, 2);
}

}  // namespace config_file_test
}  // namespace nomad::cli
