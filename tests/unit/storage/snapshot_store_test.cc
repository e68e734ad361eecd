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
