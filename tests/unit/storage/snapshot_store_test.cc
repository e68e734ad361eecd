#include "storage/snapshot_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/file_util.h"
#include "support/temp_dir.h"

namespace nomad::storage {
namespace {

size_t snapshot_files(const std::string& dir) {
  size_t n = 0;
  for (auto& f : std::filesystem::directory_iterator(dir)) n += f.path().extension() == ".snap";
  return n;
}

TEST(SnapshotStore, AnEmptyDirectoryHasNoSnapshot) {
  testing::TempDir dir;
  std::optional<Snapshot> snap;
  ASSERT_TRUE(SnapshotStore(dir.file("snap")).load_latest(&snap).is_ok());
  EXPECT_FALSE(snap);
}

TEST(SnapshotStore, TheNewestSnapshotIsLoadedAndOlderOnesRemoved) {
  testing::TempDir dir;
  SnapshotStore store(dir.path());
  ASSERT_TRUE(store.save({10, 2, "state at 10"}).is_ok());
  ASSERT_TRUE(store.save({25, 3, std::string(100000, 's')}).is_ok());
  std::optional<Snapshot> snap;
  ASSERT_TRUE(store.load_latest(&snap).is_ok());
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->index, 25u);
  EXPECT_EQ(snap->term, 3u);
  EXPECT_EQ(snap->data, std::string(100000, 's'));
  EXPECT_EQ(snapshot_files(dir.path()), 1u);
}

TEST(SnapshotStore, ALeftoverTemporaryFileIsIgnored) {
  testing::TempDir dir;
  SnapshotStore store(dir.path());
  ASSERT_TRUE(store.save({10, 2, "good"}).is_ok());
  std::ofstream(dir.file("snap-0000000000000014-0000000000000002.snap.tmp")) << "half";
  std::optional<Snapshot> snap;
  ASSERT_TRUE(store.load_latest(&snap).is_ok());
  EXPECT_EQ(snap->data, "good");
}

TEST(SnapshotStore, ADamagedSnapshotIsAnErrorNamingTheFile) {
  testing::TempDir dir;
  SnapshotStore store(dir.path());
  ASSERT_TRUE(store.save({10, 2, "precious state"}).is_ok());
  std::string path = dir.file("snap-000000000000000a-0000000000000002.snap");
  std::string bytes;
  ASSERT_TRUE(read_file(path, &bytes).is_ok());
  bytes[bytes.size() - 3] ^= 1;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  std::optional<Snapshot> snap;
  Status s = store.load_latest(&snap);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("checksum"), std::string::npos);
}

}  // namespace
}  // namespace nomad::storage

namespace nomad::storage {
namespace {

raft::Membership three_and_a_learner() {
  raft::Membership m = raft::bootstrap_membership({1, 2, 3}, {{1, "127.0.0.1:7001"}});
  m = raft::apply_conf_change(m, {raft::ConfChange::Kind::kAddLearner, 4, "127.0.0.1:7004"}, 9);
  return m;
}

TEST(SnapshotStore, TheConfigurationIsKeptWithTheSnapshot) {
  testing::TempDir dir;
  SnapshotStore store(dir.path());
  ASSERT_TRUE(store.save(12, 3, three_and_a_learner(), "state at 12").is_ok());
  std::optional<Snapshot> snap;
  ASSERT_TRUE(store.load_latest(&snap).is_ok());
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->membership, three_and_a_learner());
  EXPECT_EQ(snap->data, "state at 12");

  // Without a configuration the file keeps the first format, which older versions read.
  ASSERT_TRUE(store.save({20, 3, "state at 20"}).is_ok());
  std::string bytes;
  ASSERT_TRUE(read_file(dir.file("snap-0000000000000014-0000000000000003.snap"), &bytes).is_ok());
  EXPECT_EQ(bytes.substr(0, 8), "NLSNAP1\n");
  ASSERT_TRUE(store.load_latest(&snap).is_ok());
  EXPECT_TRUE(snap->membership.empty());
}

// Every single-byte change in the configuration part is refused as damage, never a crash.
TEST(SnapshotStore, DamagedConfigurationBytesAreRefused) {
  testing::TempDir dir;
  SnapshotStore store(dir.path());
  ASSERT_TRUE(store.save(12, 3, three_and_a_learner(), "state").is_ok());
  const std::string path = dir.file("snap-000000000000000c-0000000000000003.snap");
  std::string good;
  ASSERT_TRUE(read_file(path, &good).is_ok());
  ASSERT_EQ(good.substr(0, 8), "NLSNAP2\n");
  const size_t membership_start = 8 + 8 + 8 + 8 + 4;  // the length and checksum, then the bytes
  for (size_t i = membership_start; i < good.size() - 5; ++i) {
    std::string bad = good;
    bad[i] ^= 0x41;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    std::optional<Snapshot> snap;
    Status s = store.load_latest(&snap);
    EXPECT_FALSE(s.is_ok()) << "byte " << i;
    EXPECT_NE(s.message().find("is damaged"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace nomad::storage
