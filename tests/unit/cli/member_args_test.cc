// The membership commands' command line: cluster members, add-server, remove-server, and the
// server's --join.

#include <gtest/gtest.h>

#include "cli/args.h"
#include "support/cli_parse.h"

namespace nomad::cli {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace member_args_test {

using test_support::expect_usage_error;
using test_support::parse_error;
using test_support::parse_ok;

TEST(MemberArgs, ClusterMembers) {
  Invocation inv = parse_ok({"--addr", "127.0.0.1:50052", "-o", "json", "cluster", "members"});
  EXPECT_EQ(inv.command, Command::kClusterMembers);
  EXPECT_EQ(inv.client.output, OutputFormat::kJson);
  ASSERT_EQ(inv.client.addresses.size(), 1u);
  EXPECT_EQ(inv.client.addresses[0], "127.0.0.1:50052");
}

TEST(MemberArgs, ClusterAloneAndStatusStillShowTheStatus) {
  EXPECT_EQ(parse_ok({"cluster"}).command, Command::kClusterStatus);
  EXPECT_EQ(parse_ok({"cluster", "status"}).command, Command::kClusterStatus);
}

TEST(MemberArgs, AddServerTakesAnIdAndAnAddress) {
  Invocation inv = parse_ok({"cluster", "add-server", "4", "10.0.0.4:50051"});
  EXPECT_EQ(inv.command, Command::kClusterAddServer);
  EXPECT_EQ(inv.member.id, 4u);
  EXPECT_EQ(inv.member.address, "10.0.0.4:50051");
  EXPECT_EQ(parse_ok({"cluster", "add-server", "7", "[::1]:50057"}).member.address, "[::1]:50057");
}

TEST(MemberArgs, AddServerRefusesABadIdOrAddress) {
  expect_usage_error({"cluster", "add-server", "0", "10.0.0.4:50051"}, "not a node id");
  expect_usage_error({"cluster", "add-server", "four", "10.0.0.4:50051"}, "not a node id");
  expect_usage_error({"cluster", "add-server", "-3", "10.0.0.4:50051"}, "");
  expect_usage_error({"cluster", "add-server", "4", "10.0.0.4"}, "host:port");
  expect_usage_error({"cluster", "add-server", "4", "10.0.0.4:0"}, "port");
  expect_usage_error({"cluster", "add-server", "4", "10.0.0.4:70000"}, "port");
  expect_usage_error({"cluster", "add-server", "4", "::1:50051"}, "brackets");
  expect_usage_error({"cluster", "add-server", "4"}, "ADDR");
}

TEST(MemberArgs, RemoveServerTakesAnId) {
  Invocation inv = parse_ok({"cluster", "remove-server", "2"});
  EXPECT_EQ(inv.command, Command::kClusterRemoveServer);
  EXPECT_EQ(inv.member.id, 2u);
  expect_usage_error({"cluster", "remove-server"}, "ID");
  expect_usage_error({"cluster", "remove-server", "0"}, "not a node id");
  expect_usage_error({"cluster", "remove-server", "99999999999999999999"}, "not a node id");
}

TEST(JoinArgs, JoinTakesAddressesInsteadOfPeers) {
  Invocation inv = parse_ok({"server", "--node-id", "4", "--port", "50054", "--join",
                             "127.0.0.1:50051,http://127.0.0.1:50052"});
  ASSERT_EQ(inv.command, Command::kServer);
  ASSERT_EQ(inv.server.join.size(), 2u);
  EXPECT_EQ(inv.server.join[0], "127.0.0.1:50051");
  EXPECT_EQ(inv.server.join[1], "127.0.0.1:50052");
  EXPECT_TRUE(inv.server.peers.empty());
  EXPECT_FALSE(inv.server.joined);  // set by the server once admitted
}

TEST(JoinArgs, JoinAndPeersTogetherAreRefused) {
  expect_usage_error(
      {"server", "--node-id", "4", "--peers", "1:127.0.0.1:50051", "--join", "127.0.0.1:50051"},
      "--peers and --join do not go together");
}

TEST(JoinArgs, JoinRefusesItsOwnAddressAndEmptyItems) {
  expect_usage_error({"server", "--node-id", "4", "--port", "50054", "--join", "127.0.0.1:50054"},
                     "this node's own address");
  expect_usage_error({"server", "--node-id", "4", "--join", "127.0.0.1:50051,,"}, "--join");
}

TEST(TlsInitArgs, AddNodeMakesOneCertificateFromTheExistingCa) {
  Invocation inv = parse_ok({"tls", "init", "certs", "--add-node", "4", "--out", "node4"});
  ASSERT_EQ(inv.command, Command::kTlsInit);
  EXPECT_EQ(inv.tls_init.add_node, 4u);
  EXPECT_EQ(inv.tls_init.out, "node4");
  expect_usage_error({"tls", "init", "certs", "--out", "x"}, "--out goes with --add-node");
  expect_usage_error({"tls", "init", "certs", "--add-node", "4", "--nodes", "5"},
                     "give one of them");
}

}  // namespace member_args_test
}  // namespace nomad::cli
