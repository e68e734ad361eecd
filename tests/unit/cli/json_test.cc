#include "api/json.h"

#include <gtest/gtest.h>

namespace nomad::api {
namespace {

using nlohmann::json;

constexpr int64_t kMay1st2024 = 1714566896789;  // 2024-05-01T12:34:56.789Z

nomad_lite::Job finished_job() {
  nomad_lite::Job job;
  job.set_id("j-1");
  job.set_command("exit 3");
  job.set_status(nomad_lite::JOB_STATUS_FAILED);
  job.set_reason("exit_code");
  job.set_exit_code(3);
  job.set_node_id(2);
  job.set_attempt(1);
  job.set_created_at_ms(kMay1st2024);
  job.set_started_at_ms(kMay1st2024 + 11);
  job.set_finished_at_ms(kMay1st2024 + 1000);
  job.set_timeout_ms(30'000);
  job.set_retries(2);
  (*job.mutable_env())["A"] = "1";
  return job;
}

TEST(JobJson, FieldNamesAndValues) {
  json j = job_to_json(finished_job());
  EXPECT_EQ(j["id"], "j-1");
  EXPECT_EQ(j["command"], "exit 3");
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["reason"], "exit_code");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["node_id"], 2);
  EXPECT_EQ(j["attempt"], 1);
  EXPECT_EQ(j["created_at"], "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(j["started_at"], "2024-05-01T12:34:56.800Z");
  EXPECT_EQ(j["finished_at"], "2024-05-01T12:34:57.789Z");
  EXPECT_EQ(j["timeout"], "30s");
  EXPECT_EQ(j["retries"], 2);
  EXPECT_EQ(j["lost_retries"], 0);
  EXPECT_EQ(j["on_disconnect"], "stop");
  EXPECT_EQ(j["env"], (json{{"A", "1"}}));
}

TEST(JobJson, OnDisconnectAndLostRetriesRoundTripThroughTheirNames) {
  nomad_lite::Job job = finished_job();
  job.set_on_disconnect(nomad_lite::ON_DISCONNECT_KEEP_RUNNING);
  job.set_lost_retries(5);
  json j = job_to_json(job);
  EXPECT_EQ(j["on_disconnect"], "keep-running");
  EXPECT_EQ(j["lost_retries"], 5);
  EXPECT_EQ(api::parse_on_disconnect(j["on_disconnect"].get<std::string>()),
            nomad_lite::ON_DISCONNECT_KEEP_RUNNING);
  EXPECT_EQ(api::parse_on_disconnect("stop"), nomad_lite::ON_DISCONNECT_STOP);
  EXPECT_FALSE(api::parse_on_disconnect("keep_running"));
}

TEST(JobJson, AbsentValuesAreNullNotZero) {
  nomad_lite::Job job;
  job.set_id("j-2");
  job.set_command("sleep 1");
  job.set_status(nomad_lite::JOB_STATUS_PENDING);
  job.set_created_at_ms(kMay1st2024);
  json j = job_to_json(job);
  EXPECT_EQ(j["status"], "pending");
  for (const char* key : {"reason", "pending_reason", "exit_code", "node_id", "started_at",
                          "finished_at", "timeout", "signal", "error", "not_before"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j[key].is_null()) << key << " = " << j[key];
  }
  EXPECT_EQ(j["env"], json::object());
  EXPECT_EQ(j["attempt"], 0);
  EXPECT_EQ(j["priority"], 0);
  EXPECT_EQ(j["attempts"], json::array());
  EXPECT_FALSE(j.contains("stdout_tail"));
}

// A job that ran twice: its first node was lost, the second attempt was killed at its
// timeout.
nomad_lite::Job retried_job() {
  nomad_lite::Job job = finished_job();
  job.set_reason("timeout");
  job.clear_exit_code();
  job.set_signal(9);
  job.set_error("killed after 30s");
  job.set_priority(7);
  job.set_attempt(2);
  job.set_node_id(3);
  auto* lost = job.add_attempts();
  lost->set_number(1);
  lost->set_node_id(2);
  lost->set_status(nomad_lite::JOB_STATUS_FAILED);
  lost->set_reason("lost");
  lost->set_assigned_at_ms(kMay1st2024 + 5);
  lost->set_started_at_ms(kMay1st2024 + 11);
  lost->set_finished_at_ms(kMay1st2024 + 500);
  lost->set_error("node 2 stopped answering");
  auto* timed_out = job.add_attempts();
  timed_out->set_number(2);
  timed_out->set_node_id(3);
  timed_out->set_status(nomad_lite::JOB_STATUS_FAILED);
  timed_out->set_reason("timeout");
  timed_out->set_signal(9);
  timed_out->set_started_at_ms(kMay1st2024 + 600);
  timed_out->set_finished_at_ms(kMay1st2024 + 1000);
  job.set_stdout_tail("out\n");
  job.set_stderr_tail(std::string("bad \xff byte"));
  job.set_stderr_truncated(true);
  return job;
}

TEST(JobJson, AttemptsSignalPriorityAndError) {
  json j = job_to_json(retried_job());
  EXPECT_EQ(j["reason"], "timeout");
  EXPECT_TRUE(j["exit_code"].is_null());
  EXPECT_EQ(j["signal"], 9);
  EXPECT_EQ(j["error"], "killed after 30s");
  EXPECT_EQ(j["priority"], 7);
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["node_id"], 3);
  EXPECT_EQ(j["started_at"], "2024-05-01T12:34:56.800Z");
  ASSERT_EQ(j["attempts"].size(), 2u);
  EXPECT_EQ(j["attempts"][0], (json{{"number", 1},
                                    {"node_id", 2},
                                    {"status", "failed"},
                                    {"reason", "lost"},
                                    {"exit_code", nullptr},
                                    {"signal", nullptr},
                                    {"assigned_at", "2024-05-01T12:34:56.794Z"},
                                    {"started_at", "2024-05-01T12:34:56.800Z"},
                                    {"finished_at", "2024-05-01T12:34:57.289Z"},
                                    {"error", "node 2 stopped answering"},
                                    {"peak_memory_bytes", nullptr},
                                    {"cpu_time_ms", nullptr}}));
  EXPECT_EQ(j["attempts"][1]["signal"], 9);
  EXPECT_EQ(j["attempts"][1]["reason"], "timeout");
  EXPECT_TRUE(j["attempts"][1]["error"].is_null());
  EXPECT_TRUE(j["attempts"][1]["assigned_at"].is_null());
  // Lists leave the output out.
  for (const char* key : {"stdout_tail", "stderr_tail", "stdout_truncated", "stderr_truncated"}) {
    EXPECT_FALSE(j.contains(key)) << key;
  }
}

TEST(JobJson, AttemptsCarryTheirMeasuredPeakMemoryAndCpuTime) {
  nomad_lite::Job job = retried_job();
  job.mutable_attempts(1)->set_reason("oom");
  job.mutable_attempts(1)->set_peak_memory_bytes(67108864);
  job.mutable_attempts(1)->set_cpu_time_ms(1234);
  json j = job_to_json(job);
  EXPECT_EQ(j["attempts"][1]["reason"], "oom");
  EXPECT_EQ(j["attempts"][1]["peak_memory_bytes"], 67108864);
  EXPECT_EQ(j["attempts"][1]["cpu_time_ms"], 1234);
  EXPECT_TRUE(j["attempts"][0]["peak_memory_bytes"].is_null());
  // A job that used no measurable CPU still says 0 next to its peak.
  job.mutable_attempts(1)->set_cpu_time_ms(0);
  EXPECT_EQ(job_to_json(job)["attempts"][1]["cpu_time_ms"], 0);
}

TEST(JobJson, OutputTailsOnlyWhenAskedForAndAlwaysUtf8) {
  json j = job_to_json(retried_job(), JobJson::kWithOutput);
  EXPECT_EQ(j["stdout_tail"], "out\n");
  EXPECT_EQ(j["stderr_tail"], "bad \xEF\xBF\xBD byte");
  EXPECT_EQ(j["stdout_truncated"], false);
  EXPECT_EQ(j["stderr_truncated"], true);
  EXPECT_NO_THROW(j.dump());
  EXPECT_EQ(j["attempts"].size(), 2u);
}

TEST(JobJson, ValidUtf8ReplacesOnlyBadBytes) {
  EXPECT_EQ(valid_utf8("plain"), "plain");
  EXPECT_EQ(valid_utf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
  const std::string bad = "\xEF\xBF\xBD";
  EXPECT_EQ(valid_utf8("\xA9tail"), bad + "tail");                   // a tail cut mid-character
  EXPECT_EQ(valid_utf8("end\xE2\x82"), "end" + bad + bad);           // cut at the end
  EXPECT_EQ(valid_utf8("\xC0\xAF"), bad + bad);                      // overlong '/'
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), bad + bad + bad);            // a surrogate
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"), bad + bad + bad + bad);  // past U+10FFFF
  EXPECT_EQ(valid_utf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(JobJson, ExitCodeZeroIsAValueNotNull) {
  nomad_lite::Job job;
  job.set_status(nomad_lite::JOB_STATUS_COMPLETED);
  job.set_exit_code(0);
  json j = job_to_json(job);
  EXPECT_EQ(j["status"], "completed");
  ASSERT_FALSE(j["exit_code"].is_null());
  EXPECT_EQ(j["exit_code"], 0);
}

TEST(JobStatusNames, RoundTripAndLowerCase) {
  for (auto status : {nomad_lite::JOB_STATUS_PENDING, nomad_lite::JOB_STATUS_RUNNING,
                      nomad_lite::JOB_STATUS_COMPLETED, nomad_lite::JOB_STATUS_FAILED,
                      nomad_lite::JOB_STATUS_CANCELLED}) {
    EXPECT_EQ(parse_job_status(job_status_name(status)), status);
  }
  EXPECT_EQ(job_status_name(nomad_lite::JOB_STATUS_CANCELLED), "cancelled");
  EXPECT_EQ(parse_job_status("canceled"), nomad_lite::JOB_STATUS_CANCELLED);
  EXPECT_EQ(parse_job_status("Failed"), std::nullopt);
  EXPECT_EQ(parse_job_status("unknown"), std::nullopt);
}

TEST(Timestamps, Rfc3339UtcWithMilliseconds) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(kMay1st2024), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(format_timestamp(5), "1970-01-01T00:00:00.005Z");
  EXPECT_EQ(format_timestamp(-1), "1969-12-31T23:59:59.999Z");
}

TEST(ClusterJson, FieldsAndNulls) {
  nomad_lite::GetClusterStatusResponse status;
  status.set_node_id(2);
  status.set_role("follower");
  status.set_term(7);
  status.set_leader_id(1);
  status.set_leader_address("127.0.0.1:50051");
  status.set_commit_index(40);
  status.set_applied_index(39);
  auto* leader = status.add_nodes();
  leader->set_id(1);
  leader->set_address("127.0.0.1:50051");
  leader->set_role("leader");
  leader->set_alive(true);
  leader->set_last_contact_ms(12);
  leader->set_running_jobs(2);
  leader->mutable_scheduling()->set_node_id(1);
  auto* never = status.add_nodes();
  never->set_id(3);
  never->set_address("127.0.0.1:50053");
  never->set_role("follower");
  never->set_last_contact_ms(-1);

  json j = cluster_to_json(status);
  EXPECT_EQ(j["node_id"], 2);
  EXPECT_EQ(j["role"], "follower");
  EXPECT_EQ(j["leader_id"], 1);
  EXPECT_EQ(j["leader_address"], "127.0.0.1:50051");
  EXPECT_EQ(j["term"], 7);
  EXPECT_EQ(j["commit_index"], 40);
  EXPECT_EQ(j["applied_index"], 39);
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0], (json{{"id", 1},
                                 {"address", "127.0.0.1:50051"},
                                 {"role", "leader"},
                                 {"alive", true},
                                 {"match_index", 0},
                                 {"last_contact_ms", 12},
                                 {"scheduling",
                                  {{"node_id", 1},
                                   {"state", "eligible"},
                                   {"eligible", true},
                                   {"draining", false},
                                   {"drain_deadline_ms", nullptr},
                                   {"drain_started_ms", nullptr},
                                   {"drained_at_ms", nullptr}}},
                                 {"running_jobs", 2}}));
  EXPECT_FALSE(j["nodes"][1]["alive"]);
  EXPECT_TRUE(j["nodes"][1]["last_contact_ms"].is_null());

  status.set_leader_id(0);
  status.clear_leader_address();
  json no_leader = cluster_to_json(status);
  EXPECT_TRUE(no_leader["leader_id"].is_null());
  EXPECT_TRUE(no_leader["leader_address"].is_null());
}

}  // namespace
}  // namespace nomad::api
