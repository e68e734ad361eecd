// The snapshot file of `operator snapshot save` / `server --restore` (storage/backup_file.h):
// what is written reads back the same, and a file that is not one, of another format version,
// truncated anywhere or damaged anywhere is refused with a message that says which.

#include "storage/backup_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/file_util.h"
#include "support/temp_dir.h"

namespace nomad::storage {
namespace {

BackupHeader sample_header() {
  BackupHeader h;
  h.index = 12345;
  h.term = 7;
  h.created_at_ms = 1'765'000'000'123;
  h.job_count = 3;
  h.cluster_id = "1,2,3";
  h.members = {
      {1, true, "127.0.0.1:50051"}, {2, true, "127.0.0.1:50052"}, {3, false, "127.0.0.1:50053"}};
  return h;
}

const std::string kData = std::string("job store bytes \x00\x01\x02", 19) + std::string(500, 'x');

bool mentions(const Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

TEST(BackupFile, WhatIsWrittenReadsBackTheSame) {
  std::string bytes = encode_backup(sample_header(), kData);
  BackupHeader header;
  std::string data;
  ASSERT_TRUE(decode_backup(bytes, "f", &header, &data)) << "";
  BackupHeader expected = sample_header();
  expected.data_length = kData.size();
  expected.data_crc = header.data_crc;
  EXPECT_EQ(header, expected);
  EXPECT_EQ(data, kData);
  EXPECT_EQ(header.version, kBackupFormatVersion);
}

TEST(BackupFile, AnEmptyStateAndNoMembersRoundTrip) {
  BackupHeader h;
  std::string bytes = encode_backup(h, "");
  BackupHeader header;
  std::string data = "stale";
  ASSERT_TRUE(decode_backup(bytes, "f", &header, &data));
  EXPECT_TRUE(data.empty());
  EXPECT_TRUE(header.members.empty());
}

TEST(BackupFile, ATruncatedFileIsRefusedAtEveryLength) {
  std::string bytes = encode_backup(sample_header(), kData);
  for (size_t length = 0; length < bytes.size(); ++length) {
    BackupHeader header;
    std::string data;
    Status s = decode_backup(bytes.substr(0, length), "backup.snap", &header, &data);
    ASSERT_FALSE(s) << "length " << length;
    EXPECT_TRUE(mentions(s, "backup.snap")) << s.message();
    if (length >= 8) {
      EXPECT_TRUE(mentions(s, "truncated")) << length << ": " << s.message();
    }
  }
}

TEST(BackupFile, EveryFlippedByteIsCaught) {
  const std::string bytes = encode_backup(sample_header(), kData);
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x40);
    BackupHeader header;
    std::string data;
    Status s = decode_backup(damaged, "f", &header, &data);
    ASSERT_FALSE(s) << "byte " << at;
  }
}

TEST(BackupFile, ADamagedDataByteIsAChecksumMismatchAndTheHeaderStillReads) {
  std::string bytes = encode_backup(sample_header(), kData);
  bytes[bytes.size() - 10] ^= 1;
  BackupHeader header;
  size_t offset = 0;
  ASSERT_TRUE(decode_backup_header(bytes, "f", &header, &offset));
  EXPECT_EQ(header.index, 12345u);
  EXPECT_FALSE(backup_data_intact(header, bytes, offset));
  std::string data;
  Status s = decode_backup(bytes, "f", &header, &data);
  EXPECT_TRUE(mentions(s, "checksum mismatch")) << s.message();
}

TEST(BackupFile, ADamagedHeaderIsNamedAsSuch) {
  std::string bytes = encode_backup(sample_header(), kData);
  bytes[25] ^= 1;  // inside the metadata (the index)
  BackupHeader header;
  size_t offset = 0;
  Status s = decode_backup_header(bytes, "f", &header, &offset);
  EXPECT_TRUE(mentions(s, "header checksum mismatch")) << s.message();
}

TEST(BackupFile, AnotherFormatVersionIsRefusedByName) {
  std::string bytes = encode_backup(sample_header(), kData);
  bytes[8] = 2;
  BackupHeader header;
  std::string data;
  Status s = decode_backup(bytes, "f", &header, &data);
  EXPECT_TRUE(mentions(s, "format version 2")) << s.message();
  EXPECT_TRUE(mentions(s, "reads version 1")) << s.message();
}

TEST(BackupFile, AFileOfAnotherKindIsNotASnapshot) {
  BackupHeader header;
  std::string data;
  Status s = decode_backup("NLSNAP1\n and more bytes than a header", "f", &header, &data);
  EXPECT_TRUE(mentions(s, "not a nomad-lite snapshot file")) << s.message();
}

TEST(BackupFile, BytesAfterTheDataAreDamage) {
  std::string bytes = encode_backup(sample_header(), kData) + "x";
  BackupHeader header;
  std::string data;
  Status s = decode_backup(bytes, "f", &header, &data);
  EXPECT_TRUE(mentions(s, "1 bytes after the end")) << s.message();
}

TEST(BackupFile, AHeaderClaimingHugeMetadataIsRefusedWithoutReadingIt) {
  std::string bytes = encode_backup(sample_header(), kData);
  bytes[12] = bytes[13] = bytes[14] = bytes[15] = '\xff';
  BackupHeader header;
  std::string data;
  Status s = decode_backup(bytes, "f", &header, &data);
  EXPECT_TRUE(mentions(s, "damaged")) << s.message();
}

TEST(BackupFile, WrittenAtomicallyOverAnOlderFile) {
  nomad::testing::TempDir dir("backup");
  const std::string path = dir.file("b.snap");
  ASSERT_TRUE(write_file_atomically(path, "old"));
  ASSERT_TRUE(write_file_atomically(path, "new contents"));
  std::string back;
  ASSERT_TRUE(read_file(path, &back));
  EXPECT_EQ(back, "new contents");
  size_t files = 0;
  for (const auto& item : std::filesystem::directory_iterator(dir.path())) {
    (void)item;
    ++files;
  }
  EXPECT_EQ(files, 1u) << "no temporary file is left behind";
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST(BackupFile, AWriteIntoAMissingDirectoryFailsAndNamesIt) {
  nomad::testing::TempDir dir("backup");
  Status s = write_file_atomically(dir.file("missing/b.snap"), "x");
  EXPECT_FALSE(s);
  EXPECT_TRUE(mentions(s, "missing")) << s.message();
}

}  // namespace
}  // namespace nomad::storage
