// Backup and restore with real processes (README "Backup and restore"): a snapshot saved
// through a follower, the whole cluster and its data destroyed, a new cluster restored from the
// file finds every job with its state and output, and attempts that were running are retried;
// a survivor of a lost majority re-founds the cluster alone with --force-new-cluster.

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "cluster_harness.h"
#include "storage/backup_file.h"
#include "support/temp_dir.h"

namespace nomad::testing {
namespace {

using nlohmann::json;

bool is_final(const nomad_lite::Job& j) {
  return j.status() == nomad_lite::JOB_STATUS_COMPLETED ||
         j.status() == nomad_lite::JOB_STATUS_FAILED ||
         j.status() == nomad_lite::JOB_STATUS_CANCELLED;
}

nomad_lite::SubmitJobRequest request(const std::string& command, const std::string& key) {
  nomad_lite::SubmitJobRequest r;
  r.set_command(command);
  r.set_idempotency_key(key);
  return r;
}

struct Saved {
  std::map<std::string, nomad_lite::Job> jobs;  // as the old cluster last showed them
  std::vector<std::string> long_running;
};

TEST(BackupRestore, ANewClusterRestoredFromASnapshotHoldsEveryJob) {
  TempDir files("backup-files");
  const std::string file = files.file("cluster.snap");
  Saved saved;
  {
    TestCluster old(3, {"--worker-slots", "2"});
    old.start_all();
    ASSERT_NE(old.wait_for_leader(), 0u);
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
      nomad_lite::Job job;
      ASSERT_TRUE(old.submit_to_leader(
                         request("echo out-" + std::to_string(i), "k" + std::to_string(i)), &job)
                      .ok());
      ids.push_back(job.id());
    }
    nomad_lite::Job failing, cancelled;
    ASSERT_TRUE(old.submit_to_leader(request("echo bad >&2; exit 3", "kf"), &failing).ok());
    ids.push_back(failing.id());
    for (int i = 0; i < 2; ++i) {
      nomad_lite::Job job;
      ASSERT_TRUE(old.submit_to_leader(request("sleep 60", "kl" + std::to_string(i)), &job).ok());
      saved.long_running.push_back(job.id());
    }
    for (const auto& id : ids) {
      auto j = old.wait_for_job(id, is_final);
      ASSERT_TRUE(j) << id;
      saved.jobs[id] = *j;
    }
    for (const auto& id : saved.long_running) {
      auto j = old.wait_for_job(id, [](const nomad_lite::Job& j) {
        return j.status() == nomad_lite::JOB_STATUS_RUNNING && j.attempts_size() == 1 &&
               j.attempts(0).started_at_ms() != 0;
      });
      ASSERT_TRUE(j) << id;
      saved.jobs[id] = *j;
    }

    // Saved through a follower: the file comes from the leader all the same.
    uint64_t leader = old.wait_for_leader();
    uint64_t follower = leader == 1 ? 2 : 1;
    RunResult save = old.cli({"-o", "json", "operator", "snapshot", "save", file}, {follower});
    ASSERT_EQ(save.exit_code, 0) << save.err;
    json saved_json = json::parse(save.out);
    EXPECT_EQ(saved_json["job_count"], 9);
    EXPECT_EQ(saved_json["leader"], old.member(leader).address());

    RunResult inspect = old.cli({"-o", "json", "operator", "snapshot", "inspect", file});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    json info = json::parse(inspect.out);
    EXPECT_EQ(info["checksum_ok"], true);
    EXPECT_EQ(info["index"], saved_json["index"]);
    EXPECT_EQ(info["jobs_by_status"]["completed"], 6);
    EXPECT_EQ(info["jobs_by_status"]["failed"], 1);
    EXPECT_EQ(info["jobs_by_status"]["running"], 2);
    EXPECT_EQ(info["members"].size(), 3u);

    RunResult table = old.cli({"operator", "snapshot", "inspect", file});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find("OK"), std::string::npos) << table.out;
    // The old cluster and every data directory go (SIGKILL, then the directories removed).
  }

  // A copy cut short is refused by name, before anything would restore from it.
  std::string bytes = read_text(file);
  {
    FILE* f = fopen(files.file("cut.snap").c_str(), "w");
    fwrite(bytes.data(), 1, bytes.size() / 2, f);
    fclose(f);
    RunResult cut = run_bounded(
        {NOMAD_LITE_BIN, "operator", "snapshot", "inspect", files.file("cut.snap")}, 10s);
    EXPECT_EQ(cut.exit_code, 1);
    EXPECT_NE(cut.err.find("truncated"), std::string::npos) << cut.err;
  }

  // Every node of the new cluster starts from the same file.
  TestCluster restored(3, {"--worker-slots", "2", "--restore", file}, /*dashboards=*/true);
  restored.start_all();
  ASSERT_NE(restored.wait_for_leader(), 0u);
  for (const auto& [saved_id, before] : saved.jobs) {
    if (!is_final(before)) continue;
    const std::string& id = saved_id;  // a lambda may not capture a structured binding (clang 14)
    for (uint64_t node : restored.ids()) {
      std::optional<nomad_lite::Job> now;
      ASSERT_TRUE(wait_until([&] { return (now = restored.job(node, id)).has_value(); }))
          << id << " on node " << node;
      EXPECT_EQ(now->status(), before.status()) << id;
      EXPECT_EQ(now->stdout_tail(), before.stdout_tail()) << id;
      EXPECT_EQ(now->stderr_tail(), before.stderr_tail()) << id;
      EXPECT_EQ(now->exit_code(), before.exit_code()) << id;
      EXPECT_EQ(now->attempts_size(), before.attempts_size()) << id;
    }
  }
  // Attempts that were running are lost with the old cluster and run again.
  for (const auto& id : saved.long_running) {
    auto j = restored.wait_for_job(
        id,
        [](const nomad_lite::Job& j) {
          return j.status() == nomad_lite::JOB_STATUS_RUNNING && j.attempts_size() == 2 &&
                 j.attempts(1).started_at_ms() != 0;
        },
        30s);
    ASSERT_TRUE(j) << id << " is retried in the new cluster";
    EXPECT_EQ(j->attempts(0).reason(), "lost");
  }
  // The new cluster takes work, and a node restarted with the same --restore keeps its state.
  nomad_lite::Job fresh;
  ASSERT_TRUE(restored.submit_to_leader(request("echo after", "k-after"), &fresh).ok());
  ASSERT_TRUE(restored.wait_for_job(fresh.id(), is_final));
  uint64_t leader = restored.wait_for_leader();
  uint64_t other = leader == 3 ? 2 : 3;
  restored.kill(other, SIGKILL);
  restored.start(other);
  ASSERT_TRUE(wait_until(
      [&] {
        auto j = restored.job(other, fresh.id());
        return j && j->status() == nomad_lite::JOB_STATUS_COMPLETED;
      },
      20s))
      << read_text(restored.member(other).log);

  // REST, asked of a follower: the leader's file, fit to restore from.
  uint64_t follower = restored.wait_for_leader() == 1 ? 2 : 1;
  httplib::Client http("127.0.0.1", restored.member(follower).dashboard_port);
  http.set_read_timeout(30, 0);
  http.set_connection_timeout(
      10, 0);  // the default 300 ms is short for a TLS handshake on a busy machine
  auto res = http.Get("/api/operator/snapshot");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  storage::BackupHeader header;
  std::string data;
  ASSERT_TRUE(storage::decode_backup(res->body, "REST", &header, &data));
  EXPECT_EQ(header.job_count, 10u);
}

TEST(BackupRestore, ASurvivorOfALostMajorityStartsANewClusterAlone) {
  TestCluster cluster(3, {"--worker-slots", "1"});
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    nomad_lite::Job job;
    ASSERT_TRUE(cluster
                    .submit_to_leader(
                        request("echo kept-" + std::to_string(i), "f" + std::to_string(i)), &job)
                    .ok());
    ids.push_back(job.id());
  }
  for (const auto& id : ids) {
    ASSERT_TRUE(wait_until(
        [&] {
          auto j = cluster.job(1, id);
          return j && j->status() == nomad_lite::JOB_STATUS_COMPLETED;
        },
        20s))
        << id;
  }
  // Two of three nodes gone for good: node 1 alone cannot commit.
  cluster.kill(2, SIGKILL);
  cluster.kill(3, SIGKILL);
  nomad_lite::Job stuck;
  EXPECT_FALSE(cluster.submit_to_leader(request("echo never", "stuck"), &stuck, 2s).ok());

  cluster.kill(1, SIGTERM);
  cluster.add_server_args({"--force-new-cluster"});
  cluster.start(1);
  ASSERT_EQ(cluster.wait_for_leader(20s), 1u) << read_text(cluster.member(1).log);
  for (const auto& id : ids) {
    auto j = cluster.job(1, id);
    ASSERT_TRUE(j) << id;
    EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_COMPLETED) << id;
  }
  nomad_lite::Job fresh;
  ASSERT_TRUE(cluster.submit_to_leader(request("echo alone", "alone"), &fresh, 10s, 1).ok());
  auto done = cluster.wait_for_job(fresh.id(), is_final);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->stdout_tail(), "alone\n");

  // Restarted with the same command line, it stays the one-node cluster it became.
  cluster.kill(1, SIGTERM);
  cluster.start(1);
  ASSERT_EQ(cluster.wait_for_leader(20s), 1u) << read_text(cluster.member(1).log);
  auto again = cluster.job(1, fresh.id());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status(), nomad_lite::JOB_STATUS_COMPLETED);
}

TEST(BackupRestore, OnlyAnOperatorTokenSavesASnapshot) {
  TestCluster cluster(1, {}, /*dashboards=*/true);
  if (!cluster.secure()) cluster.enable_security(false);
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  TempDir files("backup-files");
  const std::string pki = cluster.pki_dir();
  auto save = [&](const std::string& role) {
    return run_bounded(
        {NOMAD_LITE_BIN, "--addr", cluster.member(1).address(), "--ca-cert", pki + "/ca.pem",
         "--cert", pki + "/client.pem", "--key", pki + "/client-key.pem", "--token",
         cluster.token(role), "operator", "snapshot", "save", files.file(role + ".snap")},
        30s);
  };
  RunResult refused = save("submit");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("operator"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(files.file("submit.snap")));
  RunResult saved = save("operator");
  EXPECT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_TRUE(std::filesystem::exists(files.file("operator.snap")));

  // REST: a read token is refused (403), an operator token gets the file.
  httplib::SSLClient http("127.0.0.1", cluster.member(1).dashboard_port);
  http.set_ca_cert_path((pki + "/ca.pem").c_str());
  http.enable_server_certificate_verification(true);
  http.set_read_timeout(30, 0);
  http.set_connection_timeout(
      10, 0);  // the default 300 ms is short for a TLS handshake on a busy machine
  auto get = [&](const std::string& role) {
    return http.Get("/api/operator/snapshot", {{"Authorization", "Bearer " + cluster.token(role)}});
  };
  auto read = get("read");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 403) << read->body;
  auto op = get("operator");
  ASSERT_TRUE(op);
  EXPECT_EQ(op->status, 200);
  storage::BackupHeader header;
  std::string data;
  EXPECT_TRUE(storage::decode_backup(op->body, "REST", &header, &data));
}

}  // namespace
}  // namespace nomad::testing
