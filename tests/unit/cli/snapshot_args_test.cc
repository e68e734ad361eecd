// The command lines of backup and restore: `operator snapshot save|inspect FILE`, and the
// server's --restore and --force-new-cluster (README "Backup and restore").

#include <gtest/gtest.h>

#include "cli/args.h"

namespace nomad::cli {
namespace {

TEST(SnapshotArgs, SaveAndInspectTakeAFile) {
  ParsedArgs save = parse_args({"operator", "snapshot", "save", "b.snap", "-o", "json"});
  ASSERT_TRUE(save.invocation) << save.error;
  EXPECT_EQ(save.invocation->command, Command::kSnapshotSave);
  EXPECT_EQ(save.invocation->snapshot_file, "b.snap");
  EXPECT_EQ(save.invocation->client.output, OutputFormat::kJson);

  ParsedArgs inspect = parse_args({"operator", "snapshot", "inspect", "b.snap"});
  ASSERT_TRUE(inspect.invocation) << inspect.error;
  EXPECT_EQ(inspect.invocation->command, Command::kSnapshotInspect);
  EXPECT_EQ(inspect.invocation->snapshot_file, "b.snap");
}

TEST(SnapshotArgs, AMissingFileOrSubcommandIsAnError) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"operator", "snapshot", "save"},
                                             {"operator", "snapshot"},
                                             {"operator"},
                                             {"operator", "snapshot", "restore", "b.snap"}}) {
    ParsedArgs parsed = parse_args(args);
    EXPECT_FALSE(parsed.invocation) << args.back();
    EXPECT_EQ(parsed.exit_code, 2) << args.back();
    EXPECT_FALSE(parsed.error.empty()) << args.back();
  }
}

TEST(SnapshotArgs, TheServerTakesRestoreOrForceNewClusterButNotBoth) {
  ParsedArgs restore = parse_args({"server", "--node-id", "1", "--restore", "b.snap"});
  ASSERT_TRUE(restore.invocation) << restore.error;
  EXPECT_EQ(restore.invocation->server.restore_file, "b.snap");
  EXPECT_FALSE(restore.invocation->server.force_new_cluster);

  ParsedArgs force = parse_args({"server", "--node-id", "1", "--force-new-cluster"});
  ASSERT_TRUE(force.invocation) << force.error;
  EXPECT_TRUE(force.invocation->server.force_new_cluster);

  ParsedArgs both =
      parse_args({"server", "--node-id", "1", "--restore", "b.snap", "--force-new-cluster"});
  EXPECT_FALSE(both.invocation);
  EXPECT_NE(both.error.find("do not go together"), std::string::npos) << both.error;
}

}  // namespace
}  // namespace nomad::cli
