// `node drain` and `node eligibility` as parsed: the node id, the deadline and its
// alternatives, and a clear error for each mistake.

#include <gtest/gtest.h>

#include "cli/args.h"
#include "support/cli_parse.h"

namespace nomad::cli {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace node_args_test {

using test_support::expect_usage_error;
using test_support::parse_error;
using test_support::parse_ok;

TEST(NodeArgs, DrainTakesAnIdAndADeadline) {
  Invocation inv = parse_ok({"node", "drain", "2", "--deadline", "5m"});
  EXPECT_EQ(inv.command, Command::kNodeDrain);
  EXPECT_EQ(inv.node.node_id, 2u);
  ASSERT_TRUE(inv.node.deadline);
  EXPECT_EQ(inv.node.deadline->count(), 300'000);
  EXPECT_FALSE(inv.node.detach);

  inv = parse_ok({"node", "drain", "3"});
  EXPECT_FALSE(inv.node.deadline) << "the server's default";
  inv = parse_ok({"node", "drain", "3", "--deadline", "0s", "--detach"});
  EXPECT_EQ(inv.node.deadline->count(), 0);
  EXPECT_TRUE(inv.node.detach);
  EXPECT_TRUE(parse_ok({"node", "drain", "3", "--no-deadline"}).node.no_deadline);
  EXPECT_TRUE(parse_ok({"node", "drain", "3", "--cancel"}).node.cancel);
}

TEST(NodeArgs, EligibilityTakesOnOrOff) {
  Invocation on = parse_ok({"node", "eligibility", "1", "on"});
  EXPECT_EQ(on.command, Command::kNodeEligibility);
  EXPECT_TRUE(on.node.eligible);
  EXPECT_FALSE(parse_ok({"node", "eligibility", "1", "off"}).node.eligible);
}

TEST(NodeArgs, MistakesAreNamed) {
  EXPECT_NE(parse_error({"node", "drain"}).find("which node?"), std::string::npos);
  EXPECT_NE(parse_error({"node", "drain", "two"}).find("'two' is not a node id"),
            std::string::npos);
  EXPECT_NE(parse_error({"node", "drain", "0"}).find("node ids start at 1"), std::string::npos);
  EXPECT_NE(parse_error({"node", "drain", "99999999999999999999"}).find("is not a node id"),
            std::string::npos);
  EXPECT_NE(parse_error({"node", "drain", "1", "--deadline", "soon"}).find("--deadline"),
            std::string::npos);
  EXPECT_NE(
      parse_error({"node", "drain", "1", "--deadline", "1m", "--no-deadline"}).find("not both"),
      std::string::npos);
  EXPECT_NE(parse_error({"node", "drain", "1", "--cancel", "--deadline", "1m"}).find("--cancel"),
            std::string::npos);
  EXPECT_NE(parse_error({"node", "eligibility", "1"}).find("say on or off"), std::string::npos);
  EXPECT_NE(parse_error({"node", "eligibility", "1", "yes"}).find("say on or off"),
            std::string::npos);
}

}  // namespace node_args_test
}  // namespace nomad::cli
