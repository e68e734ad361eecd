#include "cli/output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/table.h"

namespace nomad::cli {
namespace {

constexpr int64_t kNow = 1714566896789;

nomad_lite::Job job(const std::string& id, nomad_lite::JobStatus status, const std::string& cmd,
                    int64_t age_ms) {
  nomad_lite::Job j;
  j.set_id(id);
  j.set_status(status);
  j.set_command(cmd);
  j.set_created_at_ms(kNow - age_ms);
  return j;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Table, ColumnsAlignAndLinesHaveNoTrailingBlanks) {
  std::string table =
      render_table({{"ID", "STATUS", "NOTE"}, {"a", "running", ""}, {"bbbb", "ok", "x"}});
  EXPECT_EQ(table,
            "ID    STATUS   NOTE\n"
            "a     running\n"
            "bbbb  ok       x\n");
}

TEST(Table, WidthsCountCharactersNotBytes) {
  EXPECT_EQ(display_width("héllo"), 5u);
  std::string table = render_table({{"é", "x"}, {"ab", "y"}});
  EXPECT_EQ(table, "é   x\nab  y\n");
}

TEST(Table, TruncateKeepsOneLineAndMarksTheCut) {
  EXPECT_EQ(truncate("short", 10), "short");
  EXPECT_EQ(truncate("0123456789abc", 10), "0123456...");
  EXPECT_EQ(truncate("a\nb\tc", 10), "a b c");
  EXPECT_EQ(display_width(truncate("ééééééééééé", 8)), 8u);
  EXPECT_EQ(truncate("ééééééééééé", 8), "ééééé...");
}

TEST(Output, AgeUsesTheLargestWholeUnit) {
  EXPECT_EQ(format_age(0), "0s");
  EXPECT_EQ(format_age(59'999), "59s");
  EXPECT_EQ(format_age(60'000), "1m");
  EXPECT_EQ(format_age(3 * 3'600'000 + 5), "3h");
  EXPECT_EQ(format_age(2 * 86'400'000), "2d");
  EXPECT_EQ(format_age(-5000), "0s");  // clocks of client and server disagree a little
}

TEST(Output, ShortIdsAreUniquePrefixes) {
  // Time-ordered ids share a long prefix: eight characters would not tell them apart.
  std::vector<std::string> ids = {"0193f7c2-aaaa-1111", "0193f7c2-aaab-2222", "5d5a6139-0000-0000"};
  std::vector<std::string> shown = short_ids(ids);
  EXPECT_EQ(shown[0], "0193f7c2-aaaa");
  EXPECT_EQ(shown[1], "0193f7c2-aaab");
  EXPECT_EQ(shown[2], "5d5a6139");
  EXPECT_EQ(short_ids({"abc"}), std::vector<std::string>{"abc"});
}

TEST(Output, JobListTable) {
  nomad_lite::Job failed = job("5d5a6139a9a63756", nomad_lite::JOB_STATUS_FAILED, "exit 3", 90'000);
  failed.set_reason("exit_code");
  failed.set_exit_code(3);
  failed.set_node_id(2);
  nomad_lite::Job pending =
      job("77aa0000bbbb", nomad_lite::JOB_STATUS_PENDING, std::string(80, 'x'), 5'000);
  std::ostringstream out;
  print_jobs(out, {failed, pending}, OutputFormat::kTable, kNow);
  auto rows = lines(out.str());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], "ID        STATUS              EXIT  NODE  AGE  COMMAND");
  EXPECT_EQ(rows[1], "5d5a6139  failed (exit_code)  3     2     1m   exit 3");
  EXPECT_EQ(rows[2].substr(0, 44), "77aa0000  pending             -     -     5s");
  // The command is cut to 50 characters.
  EXPECT_EQ(rows[2].substr(rows[2].find("xxx")), std::string(47, 'x') + "...");
}

TEST(Output, EmptyJobList) {
  std::ostringstream table, json;
  print_jobs(table, {}, OutputFormat::kTable, kNow);
  EXPECT_EQ(table.str(), "No jobs.\n");
  print_jobs(json, {}, OutputFormat::kJson, kNow);
  EXPECT_EQ(nlohmann::json::parse(json.str()), (nlohmann::json{{"jobs", nlohmann::json::array()}}));
}

TEST(Output, JobListJsonWrapsJobsInAnObject) {
  std::ostringstream out;
  print_jobs(out, {job("a", nomad_lite::JOB_STATUS_RUNNING, "sleep 9", 1000)}, OutputFormat::kJson,
             kNow);
  auto j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j["jobs"].size(), 1u);
  EXPECT_EQ(j["jobs"][0]["id"], "a");
  EXPECT_EQ(j["jobs"][0]["status"], "running");
}

TEST(Output, JobDetailShowsWhatIsKnownOnly) {
  nomad_lite::Job j = job("5d5a6139a9a63756", nomad_lite::JOB_STATUS_COMPLETED, "echo hi", 2000);
  j.set_exit_code(0);
  j.set_node_id(3);
  j.set_attempt(1);
  std::ostringstream out;
  print_job(out, j, OutputFormat::kTable, kNow);
  std::string text = out.str();
  EXPECT_NE(text.find("ID         5d5a6139a9a63756\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Status     completed\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Exit code  0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Node       3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Created    2024-05-01T12:34:54.789Z (2s ago)\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("Finished"), std::string::npos) << text;
  EXPECT_EQ(text.find("Timeout"), std::string::npos) << text;

  std::ostringstream json;
  print_job(json, j, OutputFormat::kJson, kNow);
  EXPECT_EQ(nlohmann::json::parse(json.str())["exit_code"], 0);
}

TEST(Output, ClusterTableMarksTheLeader) {
  nomad_lite::GetClusterStatusResponse status;
  status.set_node_id(1);
  status.set_role("leader");
  status.set_term(4);
  status.set_leader_id(1);
  status.set_leader_address("127.0.0.1:50051");
  status.set_commit_index(10);
  status.set_applied_index(10);
  for (uint64_t id : {1, 2, 3}) {
    auto* node = status.add_nodes();
    node->set_id(id);
    node->set_address("127.0.0.1:5005" + std::to_string(id));
    node->set_role(id == 1 ? "leader" : "follower");
    node->set_alive(id != 3);
    node->set_match_index(id == 3 ? 4 : 10);
    node->set_last_contact_ms(id == 3 ? -1 : 20);
  }
  std::ostringstream out;
  print_cluster(out, status, OutputFormat::kTable);
  auto rows = lines(out.str());
  ASSERT_EQ(rows.size(), 8u) << out.str();
  EXPECT_EQ(rows[0], "Leader:  node 1 (127.0.0.1:50051), term 4");
  EXPECT_EQ(rows[1], "Answered by node 1 (leader): commit index 10, applied index 10");
  EXPECT_EQ(rows[3], "   ID  ADDRESS          ROLE      ALIVE  MATCH  LAST CONTACT");
  EXPECT_EQ(rows[4], "*  1   127.0.0.1:50051  leader    yes    10     -");
  EXPECT_EQ(rows[5], "   2   127.0.0.1:50052  follower  yes    10     20ms");
  EXPECT_EQ(rows[6], "   3   127.0.0.1:50053  follower  no     4      -");

  std::ostringstream json;
  print_cluster(json, status, OutputFormat::kJson);
  auto j = nlohmann::json::parse(json.str());
  EXPECT_EQ(j["leader_id"], 1);
  EXPECT_EQ(j["nodes"].size(), 3u);
}

TEST(Output, ClusterTableWithoutLeader) {
  nomad_lite::GetClusterStatusResponse status;
  status.set_node_id(2);
  status.set_role("candidate");
  status.set_term(9);
  std::ostringstream out;
  print_cluster(out, status, OutputFormat::kTable);
  EXPECT_EQ(lines(out.str())[0], "Leader:  none known, term 9");
}

}  // namespace
}  // namespace nomad::cli
