// What a server does with snapshot files before its node starts (server/backup.h): --restore
// seeds an empty data directory (running attempts ended as lost, so the jobs are retried),
// refuses one that holds other state and lets a restarted node keep its own; --force-new-cluster
// keeps a survivor's committed entries, drops the uncommitted tail and starts it alone.

#include "server/backup.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "server/cluster_identity.h"
#include "storage/snapshot_store.h"
#include "storage/wal.h"
#include "support/job_commands.h"
#include "support/temp_dir.h"

namespace nomad::server {
namespace {

using namespace nomad::jobs::testing;
namespace fs = std::filesystem;

// Jobs in every state: done (completed), waiting (pending), placed (assigned, not started),
// busy (running on node 2).
Replica sample_replica() {
  Replica r;
  r.apply(submit_cmd("done"));
  r.apply(assign_cmd("done", 1, 1, 1100));
  r.apply(started_cmd("done", 1, 1, 1200));
  r.apply(finished_cmd("done", 1, 1, 1300, 0));
  r.apply(submit_cmd("waiting"));
  r.apply(submit_cmd("placed"));
  r.apply(assign_cmd("placed", 1, 3, 1400));
  r.apply(submit_cmd("busy", Opt().lost_retries(1)));
  r.apply(assign_cmd("busy", 1, 2, 1500));
  r.apply(started_cmd("busy", 1, 2, 1600));
  return r;
}

node::ServerConfig config_in(const std::string& dir) {
  node::ServerConfig c;
  c.node_id = 1;
  c.port = 50051;
  c.data_dir = dir;
  c.fsync = false;
  c.peers = {{2, "127.0.0.1", 50052}, {3, "127.0.0.1", 50053}};
  return c;
}

std::string backup_of(const Replica& r, int64_t created_at_ms = 5000) {
  node::Node::StateImage image{r.last_index(), 1, r.store().size(), r.store().image()};
  return make_backup(image, config_in("unused"), created_at_ms);
}

jobs::JobStore restored_store(const std::string& dir, raft::Index* index = nullptr) {
  std::optional<storage::Snapshot> snap;
  EXPECT_TRUE(storage::SnapshotStore(dir + "/snap").load_latest(&snap));
  jobs::JobStore store;
  if (snap) {
    EXPECT_TRUE(store.restore(snap->data));
    if (index) *index = snap->index;
  }
  return store;
}

TEST(Backup, TheFileNamesTheClusterItsMembersAndItsJobs) {
  Replica r = sample_replica();
  storage::BackupHeader header;
  std::string data;
  ASSERT_TRUE(storage::decode_backup(backup_of(r), "f", &header, &data));
  EXPECT_EQ(header.index, r.last_index());
  EXPECT_EQ(header.job_count, 4u);
  EXPECT_EQ(header.cluster_id, "1,2,3");
  ASSERT_EQ(header.members.size(), 3u);
  EXPECT_EQ(header.members[1].address, "127.0.0.1:50052");
  EXPECT_EQ(header.created_at_ms, 5000);
}

TEST(Backup, RunningAttemptsEndAsLostAndTheirJobsWaitForARetry) {
  Replica r = sample_replica();
  std::string out;
  size_t ended = 0;
  ASSERT_TRUE(end_running_attempts(r.store().snapshot(), 20, 1, 7000, "gone", &out, &ended));
  EXPECT_EQ(ended, 2u);
  jobs::JobStore store;
  ASSERT_TRUE(store.restore(out));
  EXPECT_EQ(store.find("done")->status(), nomad_lite::JOB_STATUS_COMPLETED);
  EXPECT_EQ(store.find("waiting")->status(), nomad_lite::JOB_STATUS_PENDING);
  for (const char* id : {"placed", "busy"}) {
    const nomad_lite::Job* job = store.find(id);
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(job->status(), nomad_lite::JOB_STATUS_PENDING) << id << " is retried";
    ASSERT_EQ(job->attempts_size(), 1) << id;
    EXPECT_EQ(job->attempts(0).reason(), "lost") << id;
    EXPECT_EQ(job->attempts(0).finished_at_ms(), 7000) << id;
  }
  EXPECT_TRUE(store.running_jobs_on(2) == nullptr || store.running_jobs_on(2)->empty());
  // Every node of a new cluster restores the same file into the same state.
  std::string again;
  ASSERT_TRUE(end_running_attempts(r.store().snapshot(), 20, 1, 7000, "gone", &again));
  EXPECT_EQ(canonical_snapshot(store), [&] {
    jobs::JobStore s;
    EXPECT_TRUE(s.restore(again));
    return canonical_snapshot(s);
  }());
}

TEST(Backup, RestoreSeedsAnEmptyDataDirectory) {
  nomad::testing::TempDir dir("restore");
  Replica r = sample_replica();
  ASSERT_TRUE(storage::write_file_atomically(dir.file("b.snap"), backup_of(r)));
  node::ServerConfig c = config_in(dir.file("node"));
  c.restore_file = dir.file("b.snap");
  ASSERT_TRUE(prepare_data_dir(&c));
  raft::Index index = 0;
  jobs::JobStore store = restored_store(c.data_dir, &index);
  EXPECT_EQ(index, r.last_index());
  EXPECT_EQ(store.size(), 4u);
  EXPECT_EQ(store.find("busy")->attempts(0).reason(), "lost");
  EXPECT_EQ(c.peers.size(), 2u) << "a restored node keeps its peers";

  // Restarted with the same flags: its own state is kept (the marker names this file).
  ASSERT_TRUE(prepare_data_dir(&c));
  // Another file into a directory with state: refused, with what to do.
  Replica other = sample_replica();
  other.apply(submit_cmd("extra"));
  ASSERT_TRUE(storage::write_file_atomically(dir.file("other.snap"), backup_of(other)));
  c.restore_file = dir.file("other.snap");
  Status s = prepare_data_dir(&c);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("already holds state"), std::string::npos) << s.message();
}

TEST(Backup, RestoreRefusesADamagedFileAndWritesNothing) {
  nomad::testing::TempDir dir("restore");
  std::string bytes = backup_of(sample_replica());
  bytes[bytes.size() - 3] ^= 1;
  ASSERT_TRUE(storage::write_file_atomically(dir.file("b.snap"), bytes));
  node::ServerConfig c = config_in(dir.file("node"));
  c.restore_file = dir.file("b.snap");
  Status s = prepare_data_dir(&c);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(dir.file("node/snap")));
}

TEST(Backup, RestoreAndForceNewClusterDoNotGoTogether) {
  node::ServerConfig c = config_in("unused");
  c.restore_file = "x";
  c.force_new_cluster = true;
  EXPECT_FALSE(prepare_data_dir(&c));
}

TEST(Backup, ForceNewClusterKeepsTheCommittedEntriesAndStartsAlone) {
  nomad::testing::TempDir dir("force");
  node::ServerConfig c = config_in(dir.file("node"));
  Replica r = sample_replica();  // 10 entries; 8 committed
  {
    storage::WalContents contents;
    Status status;
    auto wal = storage::Wal::open(c.data_dir + "/wal", {.node_id = 1, .cluster = "1,2,3"}, 0,
                                  &contents, &status);
    ASSERT_TRUE(wal) << status.message();
    ASSERT_TRUE(wal->write(raft::HardState{1, 1, 8}, r.log()));
    ASSERT_TRUE(wal->sync());
  }
  c.force_new_cluster = true;
  Status s = prepare_data_dir(&c);
  ASSERT_TRUE(s) << s.message();
  EXPECT_TRUE(c.peers.empty()) << "the node starts alone";
  raft::Index index = 0;
  jobs::JobStore store = restored_store(c.data_dir, &index);
  EXPECT_EQ(index, 8u);
  std::optional<storage::Snapshot> snap;
  ASSERT_TRUE(storage::SnapshotStore(c.data_dir + "/snap").load_latest(&snap));
  ASSERT_TRUE(snap);
  ASSERT_EQ(snap->membership.members.size(), 1u) << "the stored configuration: this node alone";
  EXPECT_EQ(snap->membership.members[0].id, 1u);
  EXPECT_TRUE(snap->membership.members[0].voter);
  ASSERT_NE(store.find("busy"), nullptr) << "submitted at index 8: committed";
  EXPECT_EQ(store.find("busy")->status(), nomad_lite::JOB_STATUS_PENDING)
      << "its assignment at index 9 was not committed";
  EXPECT_EQ(store.find("placed")->attempts(0).reason(), "lost");
  bool kept_aside = false;
  for (const auto& item : fs::directory_iterator(c.data_dir)) {
    if (item.path().filename().string().rfind("before-force-new-cluster-", 0) == 0) {
      kept_aside = fs::exists(item.path() / "wal");
    }
  }
  EXPECT_TRUE(kept_aside) << "the old log is moved aside, not deleted";

  // Started again with the same command line: it is already a one-node cluster.
  node::ServerConfig again = config_in(c.data_dir);
  again.force_new_cluster = true;
  ASSERT_TRUE(prepare_data_dir(&again));
  EXPECT_TRUE(again.peers.empty());
}

// A node that joined (no --peers, ever) is re-founded with its id and data directory alone:
// the WAL's cluster name comes from cluster.json, which then says the node bootstraps alone.
TEST(Backup, ForceNewClusterOfAJoinedNodeNeedsNoPeers) {
  nomad::testing::TempDir dir("force");
  node::ServerConfig c = config_in(dir.file("node"));
  c.node_id = 4;
  c.peers.clear();
  fs::create_directories(c.data_dir);
  ASSERT_TRUE(
      save_cluster_identity(c.data_dir, {.cluster = "1,2,3", .joined = true, .bootstrap = {}}));
  Replica r = sample_replica();
  {
    storage::WalContents contents;
    Status status;
    auto wal = storage::Wal::open(c.data_dir + "/wal", {.node_id = 4, .cluster = "1,2,3"}, 0,
                                  &contents, &status);
    ASSERT_TRUE(wal) << status.message();
    ASSERT_TRUE(wal->write(raft::HardState{1, 1, 8}, r.log()));
    ASSERT_TRUE(wal->sync());
  }
  c.force_new_cluster = true;
  Status s = prepare_data_dir(&c);
  ASSERT_TRUE(s) << s.message();
  EXPECT_TRUE(c.peers.empty());
  raft::Index index = 0;
  restored_store(c.data_dir, &index);
  EXPECT_EQ(index, 8u) << "the committed entries are kept";
  std::optional<ClusterIdentity> identity;
  ASSERT_TRUE(load_cluster_identity(c.data_dir, &identity));
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->cluster, "1,2,3") << "the cluster keeps its name";
  EXPECT_FALSE(identity->joined) << "it now bootstraps alone";
  EXPECT_TRUE(identity->bootstrap.empty()) << "no peer of the old cluster";
}

TEST(Backup, ForceNewClusterWithoutClusterJsonOrPeersNamesTheFix) {
  nomad::testing::TempDir dir("force");
  node::ServerConfig c = config_in(dir.file("node"));
  {
    storage::WalContents contents;
    Status status;
    auto wal = storage::Wal::open(c.data_dir + "/wal", {.node_id = 1, .cluster = "1,2,3"}, 0,
                                  &contents, &status);
    ASSERT_TRUE(wal) << status.message();
    ASSERT_TRUE(wal->write(raft::HardState{1, 1, 8}, sample_replica().log()));
    ASSERT_TRUE(wal->sync());
  }
  c.peers.clear();  // a data directory of an older version, and the --peers forgotten
  c.force_new_cluster = true;
  Status s = prepare_data_dir(&c);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("give the --peers"), std::string::npos) << s.message();
}

TEST(Backup, ForceNewClusterNeedsStateToKeep) {
  nomad::testing::TempDir dir("force");
  node::ServerConfig c = config_in(dir.file("node"));
  c.force_new_cluster = true;
  Status s = prepare_data_dir(&c);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("holds no state"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace nomad::server
