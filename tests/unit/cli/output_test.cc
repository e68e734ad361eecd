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
  nomad_lite::Job killed = job("99aa0000cccc", nomad_lite::JOB_STATUS_FAILED, "sleep 9", 3'000);
  killed.set_signal(9);
  nomad_lite::Job pending =
      job("77aa0000bbbb", nomad_lite::JOB_STATUS_PENDING, std::string(80, 'x'), 5'000);
  std::ostringstream out;
  print_jobs(out, {failed, killed, pending}, OutputFormat::kTable, kNow);
  auto rows = lines(out.str());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], "ID        STATUS              EXIT         NODE  AGE  COMMAND");
  EXPECT_EQ(rows[1], "5d5a6139  failed (exit_code)  3            2     1m   exit 3");
  EXPECT_EQ(rows[2], "99aa0000  failed              SIGKILL (9)  -     3s   sleep 9");
  EXPECT_EQ(rows[3].substr(0, 51), "77aa0000  pending             -            -     5s");
  // The command is cut to 50 characters.
  EXPECT_EQ(rows[3].substr(rows[3].find("xxx")), std::string(47, 'x') + "...");
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

TEST(Output, JobDetailShowsAttemptsReasonAndError) {
  nomad_lite::Job j = job("5d5a6139a9a63756", nomad_lite::JOB_STATUS_FAILED, "sleep 99", 60'000);
  j.set_reason("timeout");
  j.set_error("killed after 30s");
  j.set_signal(9);
  j.set_priority(5);
  j.set_node_id(3);
  j.set_attempt(2);
  auto* lost = j.add_attempts();
  lost->set_number(1);
  lost->set_node_id(2);
  lost->set_status(nomad_lite::JOB_STATUS_FAILED);
  lost->set_reason("lost");
  lost->set_started_at_ms(kNow - 50'000);
  lost->set_finished_at_ms(kNow - 40'000);
  lost->set_error("node 2 stopped answering");
  auto* timed_out = j.add_attempts();
  timed_out->set_number(2);
  timed_out->set_node_id(3);
  timed_out->set_status(nomad_lite::JOB_STATUS_FAILED);
  timed_out->set_reason("timeout");
  timed_out->set_signal(9);
  timed_out->set_started_at_ms(kNow - 30'000);
  timed_out->set_finished_at_ms(kNow);
  auto* running = j.add_attempts();  // as a table would show one still running
  running->set_number(3);
  running->set_status(nomad_lite::JOB_STATUS_RUNNING);
  running->set_exit_code(0);
  std::ostringstream out;
  print_job(out, j, OutputFormat::kTable, kNow);
  std::string text = out.str();
  EXPECT_NE(text.find("Status    failed (timeout)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Error     killed after 30s\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Priority  5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Signal    SIGKILL (9)\n"), std::string::npos) << text;
  auto rows = lines(text.substr(text.find("\nAttempts:\n") + 1));
  ASSERT_EQ(rows.size(), 5u) << text;
  EXPECT_EQ(rows[1],
            "#  NODE  STATUS   REASON   EXIT         STARTED                   FINISHED         "
            "         ERROR");
  EXPECT_EQ(rows[2],
            "1  2     failed   lost     -            2024-05-01T12:34:06.789Z  "
            "2024-05-01T12:34:16.789Z  node 2 stopped answering");
  EXPECT_EQ(rows[3],
            "2  3     failed   timeout  SIGKILL (9)  2024-05-01T12:34:26.789Z  "
            "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(rows[4], "3  -     running  -        0            -                         -");
}

TEST(Output, JobDetailShowsPeakMemoryAndCpuTimeOnceMeasured) {
  nomad_lite::Job j = job("5d5a6139a9a63756", nomad_lite::JOB_STATUS_FAILED, "hog", 60'000);
  j.set_reason("oom");
  auto* lost = j.add_attempts();  // measured nothing: ended with its node
  lost->set_number(1);
  lost->set_node_id(2);
  lost->set_status(nomad_lite::JOB_STATUS_FAILED);
  lost->set_reason("lost");
  auto* oom = j.add_attempts();
  oom->set_number(2);
  oom->set_node_id(3);
  oom->set_status(nomad_lite::JOB_STATUS_FAILED);
  oom->set_reason("oom");
  oom->set_exit_code(137);
  oom->set_peak_memory_bytes(64 << 20);
  oom->set_cpu_time_ms(420);
  oom->set_error("killed by the kernel: out of memory");
  std::ostringstream out;
  print_job(out, j, OutputFormat::kTable, kNow);
  std::string text = out.str();
  auto rows = lines(text.substr(text.find("\nAttempts:\n") + 1));
  ASSERT_EQ(rows.size(), 4u) << text;
  EXPECT_EQ(rows[1], "#  NODE  STATUS  REASON  EXIT  STARTED  FINISHED  PEAK MEM  CPU    ERROR");
  EXPECT_EQ(rows[2], "1  2     failed  lost    -     -        -         -         -");
  EXPECT_EQ(rows[3],
            "2  3     failed  oom     137   -        -         64.0 MiB  0.42s  killed by the "
            "kernel: out of memory");
}

TEST(Output, BytesAndCpuTimeForPeople) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(512 << 10), "512.0 KiB");
  EXPECT_EQ(format_bytes(3ull << 29), "1.5 GiB");
  EXPECT_EQ(format_cpu_time(0), "0.00s");
  EXPECT_EQ(format_cpu_time(12'300), "12.30s");
  EXPECT_EQ(format_cpu_time(125'000), "2m5s");
}

TEST(Output, PendingJobShowsWhyItWaits) {
  nomad_lite::Job j = job("77aa0000bbbb", nomad_lite::JOB_STATUS_PENDING, "true", 1000);
  j.set_pending_reason("no node has a free slot");
  j.set_not_before_ms(kNow + 2000);
  std::ostringstream out;
  print_job(out, j, OutputFormat::kTable, kNow);
  EXPECT_NE(out.str().find("Waiting   no node has a free slot\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("Retry at  2024-05-01T12:34:58.789Z (in 2s)\n"), std::string::npos)
      << out.str();
  EXPECT_EQ(out.str().find("Attempts"), std::string::npos) << out.str();
  // Once it runs, why it waited is history.
  j.set_status(nomad_lite::JOB_STATUS_RUNNING);
  std::ostringstream running;
  print_job(running, j, OutputFormat::kTable, kNow);
  EXPECT_EQ(running.str().find("Waiting"), std::string::npos) << running.str();
}

TEST(Output, JobJsonHasTheTailsOnlyWhenAskedFor) {
  nomad_lite::Job j = job("a", nomad_lite::JOB_STATUS_COMPLETED, "echo hi", 1000);
  j.set_stdout_tail("hi\n");
  std::ostringstream summary, detail, list;
  print_job(summary, j, OutputFormat::kJson, kNow);
  print_job(detail, j, OutputFormat::kJson, kNow, /*with_output=*/true);
  print_jobs(list, {j}, OutputFormat::kJson, kNow);
  EXPECT_FALSE(nlohmann::json::parse(summary.str()).contains("stdout_tail"));
  EXPECT_EQ(nlohmann::json::parse(detail.str())["stdout_tail"], "hi\n");
  EXPECT_FALSE(nlohmann::json::parse(list.str())["jobs"][0].contains("stdout_tail"));
}

TEST(Output, ACommandThatIsNotUtf8StillPrintsAsJson) {
  nomad_lite::Job j = job("a", nomad_lite::JOB_STATUS_PENDING, "echo \xff", 1000);
  std::ostringstream out;
  EXPECT_NO_THROW(print_job(out, j, OutputFormat::kJson, kNow));
  EXPECT_EQ(nlohmann::json::parse(out.str())["command"], "echo \xEF\xBF\xBD");
}

TEST(Output, ExitText) {
  EXPECT_EQ(exit_text(true, 3, 0), "3");
  EXPECT_EQ(exit_text(false, 0, 0), "-");
  EXPECT_EQ(exit_text(false, 0, 15), "SIGTERM (15)");
  EXPECT_EQ(exit_text(false, 0, 64), "signal 64");
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
    node->set_running_jobs(static_cast<uint32_t>(id == 2 ? 0 : 3));
    node->mutable_scheduling()->set_node_id(id);
    node->mutable_scheduling()->set_ineligible(id == 2);
    node->mutable_scheduling()->set_draining(id == 3);
  }
  std::ostringstream out;
  print_cluster(out, status, OutputFormat::kTable);
  auto rows = lines(out.str());
  ASSERT_EQ(rows.size(), 8u) << out.str();
  EXPECT_EQ(rows[0], "Leader:  node 1 (127.0.0.1:50051), term 4");
  EXPECT_EQ(rows[1], "Answered by node 1 (leader): commit index 10, applied index 10");
  EXPECT_EQ(rows[3],
            "   ID  ADDRESS          ROLE      ALIVE  MATCH  LAST CONTACT  JOBS  SCHEDULING");
  EXPECT_EQ(rows[4],
            "*  1   127.0.0.1:50051  leader    yes    10     -             3     eligible");
  EXPECT_EQ(rows[5],
            "   2   127.0.0.1:50052  follower  yes    10     20ms          0     ineligible");
  EXPECT_EQ(rows[6],
            "   3   127.0.0.1:50053  follower  no     4      -             3     draining");

  std::ostringstream json;
  print_cluster(json, status, OutputFormat::kJson);
  auto j = nlohmann::json::parse(json.str());
  EXPECT_EQ(j["leader_id"], 1);
  EXPECT_EQ(j["nodes"].size(), 3u);
  EXPECT_EQ(j["nodes"][2]["scheduling"]["state"], "draining");
  EXPECT_EQ(j["nodes"][1]["scheduling"]["eligible"], false);
  EXPECT_EQ(j["nodes"][0]["running_jobs"], 3);
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
