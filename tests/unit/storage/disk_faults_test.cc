// A full or failing disk under the WAL and the snapshot store, through the IoFaults seam: a
// write cut short by ENOSPC leaves exactly what was there before, the same write succeeds once
// space returns, and a failed fsync is final.

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>

#include "storage/file_util.h"
#include "storage/snapshot_store.h"
#include "storage/sync_failure.h"
#include "storage/wal.h"
#include "support/temp_dir.h"

namespace nomad::storage {
namespace {

using raft::Entry;
using raft::HardState;
using testing::TempDir;

std::vector<Entry> entries(raft::Index from, raft::Index to, raft::Term term) {
  std::vector<Entry> out;
  for (raft::Index i = from; i <= to; ++i) {
    out.push_back({term, i, raft::EntryType::kNormal, "command-" + std::to_string(i)});
  }
  return out;
}

struct Opened {
  std::unique_ptr<Wal> wal;
  WalContents contents;
  Status status;
};

Opened open_wal(const std::string& dir, IoFaults* faults = nullptr,
                uint64_t segment_bytes = 1 << 20) {
  Opened o;
  o.wal = Wal::open(dir, {.node_id = 1, .segment_bytes = segment_bytes, .faults = faults}, 0,
                    &o.contents, &o.status);
  return o;
}

// However far a write gets before the disk is full, the WAL reopens with exactly the records
// written before it: the partial records are cut off at once, not left for replay to judge.
TEST(DiskFaults, OutOfSpaceDuringAppendLeavesExactlyTheRecordsWrittenBefore) {
  // The failing write is about 300 bytes; cut it at every 7th byte, and at its very start.
  for (uint64_t room = 0; room < 320; room += 7) {
    SCOPED_TRACE("room for " + std::to_string(room) + " bytes");
    TempDir dir;
    IoFaults faults;
    {
      auto o = open_wal(dir.path(), &faults);
      ASSERT_TRUE(o.status.is_ok()) << o.status.message();
      ASSERT_TRUE(o.wal->write(HardState{3, 1, 8}, entries(1, 10, 3)).is_ok());
      ASSERT_TRUE(o.wal->sync().is_ok());
      faults.space_left = room;
      Status s = o.wal->write(HardState{4, 2, 10}, entries(11, 20, 4));
      ASSERT_FALSE(s.is_ok());
      EXPECT_NE(s.message().find("No space left on device"), std::string::npos) << s.message();
      EXPECT_TRUE(o.wal->out_of_space());
      EXPECT_FALSE(o.wal->sync_failed());
      EXPECT_TRUE(o.wal->sync().is_ok());
    }
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.status.is_ok()) << o.status.message();
    EXPECT_EQ(o.contents.entries, entries(1, 10, 3));
    EXPECT_EQ(o.contents.hard_state, (HardState{3, 1, 8}));
    EXPECT_TRUE(o.contents.warnings.empty()) << o.contents.warnings.front();
  }
}

// The retry after a failed write may be shorter than what the failed one left on disk (the
// node may retry with fewer entries); nothing of the failed write may survive behind it.
TEST(DiskFaults, AppendSucceedsOnceSpaceReturnsAndNothingOfTheFailedWriteRemains) {
  TempDir dir;
  IoFaults faults;
  {
    auto o = open_wal(dir.path(), &faults);
    ASSERT_TRUE(o.status.is_ok());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 5}, entries(1, 5, 1)).is_ok());
    ASSERT_TRUE(o.wal->sync().is_ok());
    faults.space_left = 200;  // the next write gets 200 bytes in, then the disk is full
    ASSERT_FALSE(o.wal->write(HardState{1, 1, 5}, entries(6, 30, 1)).is_ok());
    ASSERT_TRUE(o.wal->out_of_space());
    // Still full: the retry fails the same way, and the WAL stays as it was.
    faults.space_left = 0;
    ASSERT_FALSE(o.wal->write(std::nullopt, entries(6, 6, 1)).is_ok());

    faults.space_left = UINT64_MAX;
    ASSERT_TRUE(o.wal->write(std::nullopt, entries(6, 6, 1)).is_ok());
    EXPECT_FALSE(o.wal->out_of_space());
    ASSERT_TRUE(o.wal->sync().is_ok());
  }
  auto o = open_wal(dir.path());
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  EXPECT_EQ(o.contents.entries, entries(1, 6, 1));
  EXPECT_EQ(o.contents.hard_state, (HardState{1, 1, 5}));
  EXPECT_TRUE(o.contents.warnings.empty()) << o.contents.warnings.front();
}

// Rolling over to a new segment needs space for its reservation (fallocate) and its header:
// a failure leaves no new file behind, and the next write creates it.
TEST(DiskFaults, OutOfSpaceAtSegmentRolloverLeavesNoNewSegment) {
  TempDir dir;
  IoFaults faults;
  const uint64_t kSegmentBytes = 4096;
  raft::Index last = 0;
  {
    auto o = open_wal(dir.path(), &faults, kSegmentBytes);
    ASSERT_TRUE(o.status.is_ok());
    // One entry larger than a segment: the next write must roll over.
    std::vector<Entry> big{{1, 1, raft::EntryType::kNormal, std::string(kSegmentBytes, 'b')}};
    ASSERT_TRUE(o.wal->write(std::nullopt, big).is_ok());
    last = 1;
    ASSERT_EQ(o.wal->segment_count(), 1u);
    ASSERT_TRUE(o.wal->sync().is_ok());

    faults.reserve_error = ENOSPC;
    ASSERT_FALSE(o.wal->write(std::nullopt, entries(last + 1, last + 1, 1)).is_ok());
    EXPECT_TRUE(o.wal->out_of_space());
    EXPECT_EQ(o.wal->segment_count(), 1u);
    faults.reserve_error = 0;
    faults.space_left = 20;  // room for part of the new segment's header only
    ASSERT_FALSE(o.wal->write(std::nullopt, entries(last + 1, last + 1, 1)).is_ok());
    EXPECT_TRUE(o.wal->out_of_space());
    EXPECT_EQ(o.wal->segment_count(), 1u);
    size_t files = 0;
    for (auto& f : std::filesystem::directory_iterator(dir.path())) files += !f.is_directory();
    EXPECT_EQ(files, 1u) << "a failed rollover left a segment file";

    faults.space_left = UINT64_MAX;
    ASSERT_TRUE(o.wal->write(HardState{1, 1, last + 1}, entries(last + 1, last + 1, 1)).is_ok());
    ASSERT_TRUE(o.wal->sync().is_ok());
    EXPECT_EQ(o.wal->segment_count(), 2u);
    ++last;
  }
  auto o = open_wal(dir.path(), nullptr, kSegmentBytes);
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  ASSERT_EQ(o.contents.entries.size(), 2u);
  EXPECT_EQ(o.contents.entries[0].data, std::string(kSegmentBytes, 'b'));
  EXPECT_EQ(o.contents.entries[1], entries(2, 2, 1)[0]);
  EXPECT_TRUE(o.contents.warnings.empty()) << o.contents.warnings.front();
}

// A node started on a full disk cannot open a segment to append to: it says what to do, and
// leaves the directory as it found it.
TEST(DiskFaults, OpeningOnAFullDiskSaysToFreeSpace) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 2}, entries(1, 2, 1)).is_ok());
    ASSERT_TRUE(o.wal->sync().is_ok());
  }
  IoFaults faults;
  faults.space_left = 10;
  auto o = open_wal(dir.path(), &faults);
  ASSERT_FALSE(o.wal);
  EXPECT_NE(o.status.message().find("No space left on device"), std::string::npos);
  EXPECT_NE(o.status.message().find("Free space on the disk that holds " + dir.path()),
            std::string::npos)
      << o.status.message();
  auto again = open_wal(dir.path());
  ASSERT_TRUE(again.status.is_ok()) << again.status.message();
  EXPECT_EQ(again.contents.entries, entries(1, 2, 1));
  EXPECT_TRUE(again.contents.warnings.empty()) << again.contents.warnings.front();
}

// fsyncgate: after a failed fsync the kernel may have dropped the unwritten pages and marked
// them clean, so a second fsync would succeed for data that is gone. The WAL refuses to go on.
TEST(DiskFaults, AFailedSyncIsNeverRetried) {
  TempDir dir;
  IoFaults faults;
  {
    auto o = open_wal(dir.path(), &faults);
    ASSERT_TRUE(o.status.is_ok());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 3}, entries(1, 3, 1)).is_ok());
    ASSERT_TRUE(o.wal->sync().is_ok());
    ASSERT_TRUE(o.wal->write(std::nullopt, entries(4, 5, 1)).is_ok());
    faults.sync_error = EIO;
    Status s = o.wal->sync();
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("fdatasync of " + dir.path()), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("failed: Input/output error"), std::string::npos) << s.message();
    EXPECT_TRUE(o.wal->sync_failed());
    EXPECT_FALSE(o.wal->out_of_space());

    faults.sync_error = 0;  // the disk "works" again: still no retry
    EXPECT_EQ(o.wal->sync().message(), s.message());
    EXPECT_EQ(o.wal->write(std::nullopt, entries(6, 6, 1)).message(), s.message());

    std::string advice = sync_failure_message(s);
    EXPECT_NE(advice.find(s.message()), std::string::npos);
    EXPECT_NE(advice.find("cannot be retried safely"), std::string::npos);
    EXPECT_NE(advice.find("restart the node to recover from its WAL"), std::string::npos);
  }
  // A restart reads back what the disk holds: here, everything up to the synced entries.
  auto o = open_wal(dir.path());
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  ASSERT_GE(o.contents.entries.size(), 3u);
  EXPECT_EQ(o.contents.entries[2], entries(3, 3, 1)[0]);
}

TEST(DiskFaults, ASnapshotThatDoesNotFitLeavesTheOldOneAndNoTemporaryFile) {
  TempDir dir;
  IoFaults faults;
  SnapshotStore store(dir.path(), &faults);
  ASSERT_TRUE(store.save({10, 2, "state at 10"}).is_ok());

  faults.space_left = 100;
  bool out_of_space = false;
  Status s = store.save({20, 2, std::string(10000, 'x')}, true, &out_of_space);
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(out_of_space);
  std::vector<std::string> files;
  for (auto& f : std::filesystem::directory_iterator(dir.path())) {
    files.push_back(f.path().filename().string());
  }
  EXPECT_EQ(files, std::vector<std::string>{"snap-000000000000000a-0000000000000002.snap"});
  std::optional<Snapshot> loaded;
  ASSERT_TRUE(store.load_latest(&loaded).is_ok());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->index, 10u);
  EXPECT_EQ(loaded->data, "state at 10");

  // Retried once there is space.
  faults.space_left = UINT64_MAX;
  ASSERT_TRUE(store.save({20, 2, std::string(10000, 'x')}, true, &out_of_space).is_ok());
  ASSERT_TRUE(store.load_latest(&loaded).is_ok());
  EXPECT_EQ(loaded->index, 20u);
}

// A snapshot's temporary file whose fsync failed is thrown away, so nothing relies on what
// the kernel kept of it: a failure, not a reason to stop, and not "out of space".
TEST(DiskFaults, ASnapshotWhoseFsyncFailsIsDiscarded) {
  TempDir dir;
  IoFaults faults;
  SnapshotStore store(dir.path(), &faults);
  ASSERT_TRUE(store.save({10, 2, "state at 10"}).is_ok());
  faults.sync_error = EIO;
  bool out_of_space = true;
  Status s = store.save({20, 2, "state at 20"}, true, &out_of_space);
  ASSERT_FALSE(s.is_ok());
  EXPECT_FALSE(out_of_space);
  EXPECT_NE(s.message().find("fsync of"), std::string::npos) << s.message();
  EXPECT_FALSE(
      std::filesystem::exists(dir.file("snap-0000000000000014-0000000000000002.snap.tmp")));
  std::optional<Snapshot> loaded;
  ASSERT_TRUE(store.load_latest(&loaded).is_ok());
  EXPECT_EQ(loaded->index, 10u);
}

}  // namespace
}  // namespace nomad::storage
