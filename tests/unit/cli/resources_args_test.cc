// job submit --cpu/--memory/--constraint and server --cpu/--memory/--label/--node-name/
// --placement (also from a --config file), agent --cpu/--memory/--label/--slots: what reaches
// the request and the config, and the one-line error each mistake gets.

#include <gtest/gtest.h>

#include <fstream>

#include "cli/args.h"
#include "support/cli_parse.h"
#include "support/temp_dir.h"

namespace nomad::cli::resources_test {
namespace {

using test_support::expect_usage_error;
using test_support::parse_ok;

constexpr uint64_t kMiB = uint64_t{1} << 20;

TEST(SubmitResourcesArgs, CpuMemoryAndConstraintsReachTheSubmission) {
  Invocation inv = parse_ok({"job", "submit", "--cpu", "0.5", "--memory", "256MiB", "--constraint",
                             "gpu==true", "--constraint", "zone!=eu-1", "--", "echo", "hi"});
  EXPECT_EQ(inv.submit.resources.cpu(), 0.5);
  EXPECT_EQ(inv.submit.resources.memory_bytes(), 256 * kMiB);
  EXPECT_EQ(inv.submit.constraints, (std::vector<std::string>{"gpu==true", "zone!=eu-1"}));
  Invocation plain = parse_ok({"job", "submit", "--", "true"});
  EXPECT_EQ(plain.submit.resources.cpu(), 0);
  EXPECT_EQ(plain.submit.resources.memory_bytes(), 0u);
  EXPECT_TRUE(plain.submit.constraints.empty());
}

TEST(SubmitResourcesArgs, BadValuesAreRefusedNamingTheFlag) {
  expect_usage_error({"job", "submit", "--cpu", "half", "--", "true"}, "--cpu 'half'");
  expect_usage_error({"job", "submit", "--cpu", "0", "--", "true"}, "--cpu");
  expect_usage_error({"job", "submit", "--cpu", "-1", "--", "true"}, "--cpu");
  expect_usage_error({"job", "submit", "--cpu", "nan", "--", "true"}, "--cpu");
  expect_usage_error({"job", "submit", "--cpu", "inf", "--", "true"}, "--cpu");
  expect_usage_error({"job", "submit", "--memory", "lots", "--", "true"}, "--memory");
  expect_usage_error({"job", "submit", "--memory", "0", "--", "true"}, "--memory");
  expect_usage_error({"job", "submit", "--memory", "12", "--", "true"}, "at least 1MiB");
  expect_usage_error({"job", "submit", "--constraint", "gpu=true", "--", "true"},
                     "KEY==VALUE or KEY!=VALUE");
  expect_usage_error({"job", "submit", "--constraint", "g pu==true", "--", "true"}, "label key");
  std::vector<std::string> many = {"job", "submit"};
  for (int i = 0; i < 17; ++i) {
    many.push_back("--constraint");
    many.push_back("k" + std::to_string(i) + "==v");
  }
  many.insert(many.end(), {"--", "true"});
  expect_usage_error(many, "the limit is 16");
}

TEST(ServerResourcesArgs, CapacityLabelsNameAndPlacementReachTheConfig) {
  Invocation inv =
      parse_ok({"server", "--cpu", "2", "--memory", "4GiB", "--label", "gpu=true", "--label",
                "zone=eu", "--node-name", "big-1", "--placement", "binpack"});
  const auto& c = inv.server;
  EXPECT_EQ(c.cpu, "2");
  EXPECT_EQ(c.memory, "4GiB");
  EXPECT_EQ(c.labels, (std::vector<std::string>{"gpu=true", "zone=eu"}));
  EXPECT_EQ(c.node_name, "big-1");
  EXPECT_EQ(c.placement, jobs::PlacementPolicy::kBinpack);
  EXPECT_EQ(parse_ok({"server"}).server.placement, jobs::PlacementPolicy::kSpread);
}

TEST(ServerResourcesArgs, BadCapacityFlagsAreRefusedNamingTheFlag) {
  expect_usage_error({"server", "--cpu", "many"}, "--cpu");
  expect_usage_error({"server", "--memory", "4 gigs"}, "--memory");
  expect_usage_error({"server", "--label", "gpu"}, "--label");
  expect_usage_error({"server", "--label", "a=1", "--label", "a=2"}, "given twice");
  expect_usage_error({"server", "--placement", "random"},
                     "--placement: 'random' is not spread or binpack");
}

// `agent` shares the server's checks (cli::check_job_runner_flags): the same mistakes, the
// same errors, under the agent's own flag names.
TEST(AgentResourcesArgs, BadFlagsAreRefusedAsTheServersAre) {
  const std::vector<std::string> agent = {"agent", "--servers", "127.0.0.1:50051"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), agent.begin(), agent.end());
    return more;
  };
  expect_usage_error(with({"--cpu", "many"}), "--cpu");
  expect_usage_error(with({"--memory", "4 gigs"}), "--memory");
  expect_usage_error(with({"--label", "gpu"}), "--label");
  expect_usage_error(with({"--label", "a=1", "--label", "a=2"}), "given twice");
  expect_usage_error(with({"--slots", "-2"}), "--slots: must be 0 or more");
  expect_usage_error({"server", "--worker-slots", "-2"}, "--worker-slots: must be 0 or more");
  expect_usage_error(with({"--tls-cert", "a.pem"}),
                     "--tls-cert, --tls-key and --tls-ca go together");
  expect_usage_error(with({"--executor", "vm"}), "--executor: 'vm' is not raw or sandbox");
  expect_usage_error(with({"--max-output", "10"}), "--max-output: must be at least 1024 bytes");
  expect_usage_error(with({"--log-level", "loud"}), "--log-level: 'loud' is not one of");
  expect_usage_error(with({"--log-format", "xml"}), "--log-format: 'xml' is not text or json");
  Invocation inv = parse_ok(with({"--cpu", "2", "--memory", "4GiB", "--label", "zone=eu",
                                  "--node-name", "edge-1", "--slots", "3"}));
  EXPECT_EQ(inv.agent.capacity.cpu, "2");
  EXPECT_EQ(inv.agent.capacity.labels, (std::vector<std::string>{"zone=eu"}));
  EXPECT_EQ(inv.agent.capacity.name, "edge-1");
  EXPECT_EQ(inv.agent.slots, 3);
}

TEST(ServerResourcesArgs, LabelsComeFromAConfigFileArray) {
  nomad::testing::TempDir dir;
  std::string path = dir.file("server.toml");
  std::ofstream(path) << "cpu = \"1.5\"\nmemory = \"2GiB\"\nlabel = [\"gpu=true\", \"zone=eu\"]\n"
                         "placement = \"binpack\"\n";
  Invocation inv = parse_ok({"server", "--config", path});
  EXPECT_EQ(inv.server.cpu, "1.5");
  EXPECT_EQ(inv.server.labels, (std::vector<std::string>{"gpu=true", "zone=eu"}));
  EXPECT_EQ(inv.server.placement, jobs::PlacementPolicy::kBinpack);
  std::ofstream(path) << "label = [1, 2]\n";
  expect_usage_error({"server", "--config", path}, "'label' holds something other than strings");
}

}  // namespace
}  // namespace nomad::cli::resources_test
