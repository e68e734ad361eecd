#include "storage/wal.h"

#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "raft/membership.h"
#include "storage/file_util.h"
#include "storage/record.h"
#include "support/temp_dir.h"

namespace nomad::storage {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace wal_test {

using raft::Entry;
using raft::HardState;
using testing::TempDir;

std::vector<Entry> make_entries(raft::Index from, raft::Index to, raft::Term term) {
  std::vector<Entry> out;
  for (raft::Index i = from; i <= to; ++i) {
    out.push_back({term, i, raft::EntryType::kNormal, "cmd-" + std::to_string(i)});
  }
  return out;
}

struct Opened {
  std::unique_ptr<Wal> wal;
  WalContents contents;
  Status status;
};

// Segments of 1 MiB keep reading their reserved space back fast.
Opened open_wal(const std::string& dir, raft::Index snapshot_index = 0,
                uint64_t segment_bytes = 1 << 20, raft::NodeId node = 1) {
  Opened o;
  o.wal = Wal::open(dir, {.node_id = node, .segment_bytes = segment_bytes}, snapshot_index,
                    &o.contents, &o.status);
  return o;
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& f : std::filesystem::directory_iterator(dir)) out.push_back(f.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

std::string read(const std::string& path) {
  std::string data;
  EXPECT_TRUE(read_file(path, &data).is_ok());
  return data;
}

// Where the whole records of a segment end; reserved space or damage follows.
size_t records_end(std::string_view data) {
  size_t end = 0;
  for (ReadResult r; (r = read_record(data, end)).status == ReadStatus::kRecord;) {
    end = r.next_offset;
  }
  return end;
}

// A segment's records without the reserved space after them.
std::string read_records(const std::string& path) {
  std::string data = read(path);
  data.resize(records_end(data));
  return data;
}

bool on_tmpfs(const std::string& dir) {
  struct statfs info {};
  return ::statfs(dir.c_str(), &info) == 0 && info.f_type == TMPFS_MAGIC;
}

const std::vector<std::string> kNoWarnings;

TEST(Wal, EntriesAndHardStateSurviveAReopen) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.status.is_ok()) << o.status.message();
    ASSERT_TRUE(o.wal->write(HardState{2, 3, 0}, make_entries(1, 10, 2)).is_ok());
    ASSERT_TRUE(o.wal->write(HardState{2, 3, 7}, make_entries(11, 12, 2)).is_ok());
    ASSERT_TRUE(o.wal->sync().is_ok());
  }
  auto o = open_wal(dir.path());
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  EXPECT_EQ(o.contents.hard_state, (HardState{2, 3, 7}));
  EXPECT_EQ(o.contents.entries, make_entries(1, 12, 2));
  EXPECT_TRUE(o.contents.warnings.empty());
}

// A restart rebuilds the configuration from the configuration entries in the log.
TEST(Wal, ConfigurationEntriesSurviveAReopen) {
  TempDir dir;
  raft::Membership next =
      raft::apply_conf_change(raft::bootstrap_membership({1, 2, 3}, {}),
                              {raft::ConfChange::Kind::kAddLearner, 4, "127.0.0.1:7004"}, 3);
  std::vector<Entry> entries = make_entries(1, 2, 1);
  entries.push_back(
      {1, 3, raft::EntryType::kConfChange,
       raft::encode_conf_entry({raft::ConfChange::Kind::kAddLearner, 4, "127.0.0.1:7004"}, next)});
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.status.is_ok()) << o.status.message();
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 3}, entries).is_ok());
    ASSERT_TRUE(o.wal->sync().is_ok());
  }
  auto o = open_wal(dir.path());
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  ASSERT_EQ(o.contents.entries, entries);
  raft::Membership restored;
  ASSERT_TRUE(raft::decode_conf_entry(o.contents.entries.back().data, nullptr, &restored));
  EXPECT_EQ(restored, next);
}

TEST(Wal, AnEntryAtAnEarlierIndexReplacesTheSuffixOnReplay) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.wal->write(std::nullopt, make_entries(1, 5, 1)).is_ok());
    // A follower learned that entries 4.. conflict with the leader's log.
    ASSERT_TRUE(o.wal->write(std::nullopt, make_entries(4, 4, 2)).is_ok());
  }
  auto o = open_wal(dir.path());
  ASSERT_TRUE(o.status.is_ok());
  auto expected = make_entries(1, 3, 1);
  expected.push_back(make_entries(4, 4, 2)[0]);
  EXPECT_EQ(o.contents.entries, expected);
}

TEST(Wal, ATornLastRecordIsCutOffWithAWarningNamingFileAndOffset) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 3}, make_entries(1, 3, 1)).is_ok());
    ASSERT_TRUE(o.wal->write(std::nullopt, make_entries(4, 4, 1)).is_ok());
  }
  std::string path = segment_files(dir.path()).back();
  // A file that grows as it is written (no reserved space) ends inside the last record.
  std::string data = read_records(path);
  size_t cut = data.size() - 10;  // half of the last entry record
  write_file(path, data.substr(0, cut));

  auto o = open_wal(dir.path());
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  EXPECT_EQ(o.contents.entries, make_entries(1, 3, 1));
  ASSERT_EQ(o.contents.warnings.size(), 1u);
  EXPECT_NE(o.contents.warnings[0].find(path), std::string::npos);
  EXPECT_NE(o.contents.warnings[0].find("offset"), std::string::npos);

  // New writes land after the cut and survive the next restart.
  ASSERT_TRUE(o.wal->write(std::nullopt, make_entries(4, 5, 2)).is_ok());
  o.wal.reset();
  auto again = open_wal(dir.path());
  ASSERT_TRUE(again.status.is_ok());
  EXPECT_EQ(again.contents.entries.size(), 5u);
  EXPECT_EQ(again.contents.entries.back().term, 2u);
}

TEST(Wal, ATornLastRecordFollowedByReservedZerosIsCutOffWithAWarning) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 3}, make_entries(1, 3, 1)).is_ok());
    ASSERT_TRUE(o.wal->write(std::nullopt, make_entries(4, 4, 1)).is_ok());
  }
  std::string path = segment_files(dir.path()).back();
  std::string data = read(path);
  // A crash wrote only the start of the last record; the reserved zeros remain after it.
  size_t end = records_end(data);
  std::fill(data.begin() + static_cast<std::ptrdiff_t>(end) - 10,
            data.begin() + static_cast<std::ptrdiff_t>(end), '\0');
  write_file(path, data);
  size_t torn_at = records_end(data);

  auto o = open_wal(dir.path());
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  EXPECT_EQ(o.contents.entries, make_entries(1, 3, 1));
  ASSERT_EQ(o.contents.warnings.size(), 1u);
  EXPECT_NE(o.contents.warnings[0].find(path + " at offset " + std::to_string(torn_at)),
            std::string::npos)
      << o.contents.warnings[0];
  EXPECT_EQ(std::filesystem::file_size(path), torn_at);
}

TEST(Wal, ANewSegmentIsReservedAtFullSizeAndReopensWithoutWarnings) {
  TempDir dir;
  if (on_tmpfs(dir.path())) GTEST_SKIP() << "segments are not reserved on tmpfs";
  const uint64_t kSegmentBytes = 1 << 20;
  {
    auto o = open_wal(dir.path(), 0, kSegmentBytes);
    ASSERT_TRUE(o.status.is_ok()) << o.status.message();
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 5}, make_entries(1, 5, 1)).is_ok());
    ASSERT_TRUE(o.wal->sync().is_ok());
  }
  std::string first = segment_files(dir.path()).at(0);
  EXPECT_EQ(std::filesystem::file_size(first), kSegmentBytes);

  auto o = open_wal(dir.path(), 0, kSegmentBytes);
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  EXPECT_EQ(o.contents.hard_state, (HardState{1, 1, 5}));
  EXPECT_EQ(o.contents.entries, make_entries(1, 5, 1));
  EXPECT_EQ(o.contents.warnings, kNoWarnings);
  // The recovered segment is never written again, so its reserved space was given back.
  std::string data = read(first);
  EXPECT_GT(data.size(), 0u);
  EXPECT_EQ(records_end(data), data.size());
  auto files = segment_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(std::filesystem::file_size(files[1]), kSegmentBytes);
}

TEST(Wal, SegmentsThatRolledOverHoldOnlyRecords) {
  TempDir dir;
  const uint64_t kSegmentBytes = 4096;
  auto o = open_wal(dir.path(), 0, kSegmentBytes);
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  for (raft::Index i = 1; i <= 200; ++i) {
    ASSERT_TRUE(o.wal->write(HardState{1, 1, i}, make_entries(i, i, 1)).is_ok());
  }
  auto files = segment_files(dir.path());
  ASSERT_GE(files.size(), 3u);
  for (size_t f = 0; f + 1 < files.size(); ++f) {
    std::string data = read(files[f]);
    EXPECT_GE(data.size(), kSegmentBytes) << files[f];
    EXPECT_EQ(records_end(data), data.size()) << files[f];
  }
}

TEST(Wal, ZerosAfterTheRecordsOfAnEarlierSegmentAreACleanEnd) {
  TempDir dir;
  {
    auto o = open_wal(dir.path(), 0, /*segment_bytes=*/300);
    for (raft::Index i = 1; i <= 30; ++i) {
      ASSERT_TRUE(o.wal->write(HardState{1, 1, i}, make_entries(i, i, 1)).is_ok());
    }
  }
  auto files = segment_files(dir.path());
  ASSERT_GE(files.size(), 3u);
  std::string records = read(files[0]);
  write_file(files[0], records + std::string(4096, '\0'));

  auto o = open_wal(dir.path(), 0, /*segment_bytes=*/300);
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  EXPECT_EQ(o.contents.entries, make_entries(1, 30, 1));
  EXPECT_EQ(o.contents.warnings, kNoWarnings);
  EXPECT_EQ(std::filesystem::file_size(files[0]), records.size());
}

TEST(Wal, ZerosAndThenDataInAnEarlierSegmentRefuseToStart) {
  TempDir dir;
  {
    auto o = open_wal(dir.path(), 0, /*segment_bytes=*/300);
    for (raft::Index i = 1; i <= 30; ++i) {
      ASSERT_TRUE(o.wal->write(HardState{1, 1, i}, make_entries(i, i, 1)).is_ok());
    }
  }
  auto files = segment_files(dir.path());
  ASSERT_GE(files.size(), 3u);
  // A block of records in the middle of a segment was lost (reads back as zeros).
  std::string data = read(files[0]);
  size_t lost_from = records_end(data) / 2;
  std::fill(data.begin() + static_cast<std::ptrdiff_t>(lost_from),
            data.begin() + static_cast<std::ptrdiff_t>(lost_from) + 64, '\0');
  write_file(files[0], data);

  auto o = open_wal(dir.path(), 0, /*segment_bytes=*/300);
  EXPECT_EQ(o.wal, nullptr);
  EXPECT_NE(o.status.message().find(files[0]), std::string::npos) << o.status.message();
  EXPECT_NE(o.status.message().find("Restore"), std::string::npos);
}

TEST(Wal, AFailedReservationIsAnErrorNamingTheSegment) {
  TempDir dir;
  if (on_tmpfs(dir.path())) GTEST_SKIP() << "segments are not reserved on tmpfs";
  // More than any file on this filesystem may hold.
  auto o = open_wal(dir.path(), 0, /*segment_bytes=*/1ull << 62);
  EXPECT_EQ(o.wal, nullptr);
  EXPECT_NE(o.status.message().find("cannot reserve"), std::string::npos) << o.status.message();
  EXPECT_NE(o.status.message().find("0000000000000001.wal"), std::string::npos);
  EXPECT_EQ(segment_files(dir.path()).size(), 0u);  // nothing half-made left behind
}

TEST(Wal, AFlippedByteBeforeTheTailRefusesToStartNamingThePlace) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 0}, make_entries(1, 50, 1)).is_ok());
  }
  std::string path = segment_files(dir.path()).back();
  std::string data = read(path);
  data[records_end(data) / 2] ^= 0x20;
  write_file(path, data);

  auto o = open_wal(dir.path());
  EXPECT_EQ(o.wal, nullptr);
  EXPECT_NE(o.status.message().find(path), std::string::npos) << o.status.message();
  EXPECT_NE(o.status.message().find("offset"), std::string::npos);
  EXPECT_NE(o.status.message().find("Restore"), std::string::npos);
}

TEST(Wal, AnEmptyLastSegmentIsRemovedAndTheRestRecovered) {
  // A crash right after a new segment file was created, before or after its reservation.
  for (const std::string& created : {std::string(), std::string(4096, '\0')}) {
    TempDir dir;
    {
      auto o = open_wal(dir.path());
      ASSERT_TRUE(o.wal->write(HardState{1, 1, 2}, make_entries(1, 2, 1)).is_ok());
    }
    write_file(dir.file("0000000000000002.wal"), created);
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.status.is_ok()) << o.status.message();
    EXPECT_EQ(o.contents.entries.size(), 2u);
    ASSERT_EQ(o.contents.warnings.size(), 1u);
    EXPECT_NE(o.contents.warnings[0].find("was empty"), std::string::npos);
  }
}

TEST(Wal, AZeroLengthSegmentInTheMiddleIsAnError) {
  TempDir dir;
  {
    auto o = open_wal(dir.path(), 0, /*segment_bytes=*/200);
    for (raft::Index i = 1; i <= 30; ++i) {
      ASSERT_TRUE(o.wal->write(std::nullopt, make_entries(i, i, 1)).is_ok());
    }
  }
  auto files = segment_files(dir.path());
  ASSERT_GE(files.size(), 3u);
  write_file(files[1], "");
  auto o = open_wal(dir.path());
  EXPECT_EQ(o.wal, nullptr);
  EXPECT_NE(o.status.message().find(files[1]), std::string::npos) << o.status.message();
}

TEST(Wal, AMissingSegmentIsAnErrorNamingIt) {
  TempDir dir;
  {
    auto o = open_wal(dir.path(), 0, /*segment_bytes=*/200);
    for (raft::Index i = 1; i <= 30; ++i) {
      ASSERT_TRUE(o.wal->write(std::nullopt, make_entries(i, i, 1)).is_ok());
    }
  }
  auto files = segment_files(dir.path());
  ASSERT_GE(files.size(), 3u);
  std::filesystem::remove(files[1]);
  auto o = open_wal(dir.path());
  EXPECT_EQ(o.wal, nullptr);
  EXPECT_NE(o.status.message().find("missing"), std::string::npos) << o.status.message();
}

TEST(Wal, ASnapshotNewerThanTheLogLeavesNoEntries) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 5}, make_entries(1, 5, 1)).is_ok());
  }
  auto o = open_wal(dir.path(), /*snapshot_index=*/9);
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  EXPECT_TRUE(o.contents.entries.empty());
}

TEST(Wal, EntriesCoveredByTheSnapshotAreSkipped) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 5}, make_entries(1, 8, 1)).is_ok());
  }
  auto o = open_wal(dir.path(), /*snapshot_index=*/5);
  ASSERT_TRUE(o.status.is_ok());
  EXPECT_EQ(o.contents.entries, make_entries(6, 8, 1));
}

TEST(Wal, AnInstalledSnapshotVoidsEarlierEntriesOnReplay) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    // Divergent entries of an old term, then a snapshot from the leader at index 20.
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 2}, make_entries(1, 6, 1)).is_ok());
    ASSERT_TRUE(o.wal->write_snapshot_installed(20, 4).is_ok());
    ASSERT_TRUE(o.wal->write(HardState{4, 0, 20}, make_entries(21, 22, 4)).is_ok());
  }
  auto o = open_wal(dir.path(), /*snapshot_index=*/20);
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  EXPECT_EQ(o.contents.entries, make_entries(21, 22, 4));
  EXPECT_EQ(o.contents.hard_state.commit, 20u);
}

TEST(Wal, AnUnknownRecordTypeRefusesToStart) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 0}, make_entries(1, 2, 1)).is_ok());
  }
  std::string path = segment_files(dir.path()).back();
  std::string data = read_records(path);
  append_record(static_cast<RecordType>(42), "from the future", &data);
  write_file(path, data);
  auto o = open_wal(dir.path());
  EXPECT_EQ(o.wal, nullptr);
  EXPECT_NE(o.status.message().find("unknown record type 42"), std::string::npos);
}

TEST(Wal, ADirectoryOfAnotherNodeIsRefused) {
  TempDir dir;
  { auto o = open_wal(dir.path(), 0, 64 << 20, /*node=*/1); }
  auto o = open_wal(dir.path(), 0, 64 << 20, /*node=*/2);
  EXPECT_EQ(o.wal, nullptr);
  EXPECT_NE(o.status.message().find("belongs to node 1, not node 2"), std::string::npos)
      << o.status.message();
}

TEST(Wal, ADirectoryOfAnotherClusterIsRefused) {
  TempDir dir;
  {
    WalContents contents;
    Status status;
    auto wal = Wal::open(dir.path(), {.node_id = 1, .cluster = "1,2,3"}, 0, &contents, &status);
    ASSERT_TRUE(wal) << status.message();
  }
  WalContents contents;
  Status status;
  auto wal = Wal::open(dir.path(), {.node_id = 1, .cluster = "1,2,4"}, 0, &contents, &status);
  EXPECT_EQ(wal, nullptr);
  EXPECT_NE(status.message().find("belongs to cluster '1,2,3', not '1,2,4'"), std::string::npos)
      << status.message();
}

// A node whose membership changed since its directory was written keeps the stored cluster
// identity whatever its flags now derive; a new directory takes the one it is given.
TEST(Wal, AStoredClusterIsAdoptedWhenAsked) {
  TempDir dir;
  {
    WalContents contents;
    Status status;
    auto wal = Wal::open(dir.path(), {.node_id = 1, .cluster = "1,2,3"}, 0, &contents, &status);
    ASSERT_TRUE(wal) << status.message();
    ASSERT_TRUE(wal->write(HardState{1, 1, 0}, make_entries(1, 3, 1)).is_ok());
    ASSERT_TRUE(wal->sync().is_ok());
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    WalContents contents;
    Status status;
    auto wal =
        Wal::open(dir.path(), {.node_id = 1, .cluster = "1,2,3,4", .adopt_stored_cluster = true}, 0,
                  &contents, &status);
    ASSERT_TRUE(wal) << status.message();
    EXPECT_EQ(wal->cluster(), "1,2,3");
    EXPECT_EQ(contents.entries, make_entries(1, 3 + reopen, 1));
    ASSERT_TRUE(wal->write(std::nullopt, make_entries(4 + reopen, 4 + reopen, 1)).is_ok());
    ASSERT_TRUE(wal->sync().is_ok());
  }
  TempDir fresh;
  WalContents contents;
  Status status;
  auto wal =
      Wal::open(fresh.path(), {.node_id = 4, .cluster = "1,2,3", .adopt_stored_cluster = true}, 0,
                &contents, &status);
  ASSERT_TRUE(wal) << status.message();
  EXPECT_EQ(wal->cluster(), "1,2,3");
}

TEST(Wal, SegmentsRollOverAndCoveredOnesAreReleasedWithoutLosingTheHardState) {
  TempDir dir;
  {
    auto o = open_wal(dir.path(), 0, /*segment_bytes=*/300);
    for (raft::Index i = 1; i <= 40; ++i) {
      ASSERT_TRUE(o.wal->write(HardState{3, 2, i}, make_entries(i, i, 3)).is_ok());
    }
    ASSERT_TRUE(o.wal->sync().is_ok());
    size_t before = o.wal->segment_count();
    ASSERT_GT(before, 4u);
    ASSERT_TRUE(o.wal->release_to(30).is_ok());
    EXPECT_LT(o.wal->segment_count(), before);
    EXPECT_EQ(segment_files(dir.path()).size(), o.wal->segment_count());
  }
  auto o = open_wal(dir.path(), /*snapshot_index=*/30);
  ASSERT_TRUE(o.status.is_ok()) << o.status.message();
  EXPECT_EQ(o.contents.hard_state, (HardState{3, 2, 40}));
  EXPECT_EQ(o.contents.entries, make_entries(31, 40, 3));
}

TEST(Wal, ACommitIndexBeyondTheLogIsAnError) {
  TempDir dir;
  {
    auto o = open_wal(dir.path());
    ASSERT_TRUE(o.wal->write(HardState{1, 1, 9}, make_entries(1, 2, 1)).is_ok());
  }
  auto o = open_wal(dir.path());
  EXPECT_EQ(o.wal, nullptr);
  EXPECT_NE(o.status.message().find("commit index 9"), std::string::npos);
}

}  // namespace wal_test
}  // namespace nomad::storage
