#include "storage/record.h"

#include <gtest/gtest.h>

#include "storage/crc32c.h"

namespace nomad::storage {
namespace {

TEST(Crc32c, MatchesTheStandardCheckValue) {
  // The check value of CRC-32C for "123456789" (RFC 3720, appendix B.4).
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
  // Extending a checksum equals checksumming the concatenation.
  EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xe3069283u);
}

TEST(Record, RoundTripsTypeAndPayload) {
  std::string data;
  append_record(RecordType::kEntry, "hello", &data);
  append_record(RecordType::kHardState, std::string(1000, 'x'), &data);
  ReadResult a = read_record(data, 0);
  ASSERT_EQ(a.status, ReadStatus::kRecord);
  EXPECT_EQ(a.type, RecordType::kEntry);
  EXPECT_EQ(a.payload, "hello");
  ReadResult b = read_record(data, a.next_offset);
  ASSERT_EQ(b.status, ReadStatus::kRecord);
  EXPECT_EQ(b.type, RecordType::kHardState);
  EXPECT_EQ(b.payload.size(), 1000u);
  EXPECT_EQ(read_record(data, b.next_offset).status, ReadStatus::kEnd);
}

TEST(Record, AHalfWrittenLastRecordIsTorn) {
  std::string data;
  append_record(RecordType::kEntry, "first", &data);
  size_t first_end = data.size();
  append_record(RecordType::kEntry, std::string(100, 'y'), &data);
  for (size_t cut = first_end + 1; cut < data.size(); cut += 7) {
    ReadResult r = read_record(std::string_view(data).substr(0, cut), first_end);
    EXPECT_EQ(r.status, ReadStatus::kTorn) << "cut at " << cut;
  }
}

TEST(Record, ZerosAfterTheLastRecordAreTheEnd) {
  // Reserved space that was never written; shorter than a header too.
  for (size_t zeros : {1, 15, 16, 64, 4096}) {
    std::string data;
    append_record(RecordType::kEntry, "first", &data);
    size_t end = data.size();
    data.append(zeros, '\0');
    ReadResult r = read_record(data, end);
    EXPECT_EQ(r.status, ReadStatus::kEnd) << zeros << " zeros: " << r.problem;
  }
}

TEST(Record, AHalfWrittenRecordFollowedByZerosIsTorn) {
  // What a crash leaves in reserved space: a prefix of the record, then the zeros it did not
  // overwrite.
  std::string record;
  append_record(RecordType::kEntry, std::string(100, 'y'), &record);
  for (size_t written = 1; written < record.size(); written += 3) {
    std::string data = record.substr(0, written) + std::string(4096, '\0');
    ReadResult r = read_record(data, 0);
    EXPECT_EQ(r.status, ReadStatus::kTorn) << written << " bytes written";
  }
}

TEST(Record, ZerosFollowedByARecordAreCorruption) {
  // A zeroed block inside the log must not pass for the end of it.
  std::string data;
  append_record(RecordType::kEntry, "first", &data);
  size_t end = data.size();
  data.append(4096, '\0');
  append_record(RecordType::kEntry, "second", &data);
  EXPECT_EQ(read_record(data, end).status, ReadStatus::kCorrupt);
}

TEST(Record, ADamagedHeaderFollowedByZerosAndThenDataIsCorruption) {
  // Only zeros after a bad header would be an unfinished write; a record after them is not.
  std::string data;
  append_record(RecordType::kEntry, std::string(100, '\0'), &data);
  data[1] ^= 0x01;
  append_record(RecordType::kEntry, "second", &data);
  EXPECT_EQ(read_record(data, 0).status, ReadStatus::kCorrupt);
}

TEST(Record, AFlippedPayloadByteFollowedByDataIsCorruption) {
  std::string data;
  append_record(RecordType::kEntry, "first", &data);
  append_record(RecordType::kEntry, "second", &data);
  data[kRecordHeaderSize + 1] ^= 0x40;
  ReadResult r = read_record(data, 0);
  EXPECT_EQ(r.status, ReadStatus::kCorrupt);
  EXPECT_NE(r.problem.find("checksum"), std::string::npos);
}

TEST(Record, AFlippedLengthByteIsCorruptionNotATornTail) {
  // Without a header checksum a larger length would run past the end and look torn,
  // silently dropping everything after it.
  std::string data;
  append_record(RecordType::kEntry, "first", &data);
  append_record(RecordType::kEntry, "second", &data);
  data[2] ^= 0x01;
  EXPECT_EQ(read_record(data, 0).status, ReadStatus::kCorrupt);
}

TEST(Record, AnUnknownTypeIsCorruptionNamingTheType) {
  std::string data;
  append_record(static_cast<RecordType>(77), "future", &data);
  ReadResult r = read_record(data, 0);
  EXPECT_EQ(r.status, ReadStatus::kCorrupt);
  EXPECT_NE(r.problem.find("unknown record type 77"), std::string::npos);
}

}  // namespace
}  // namespace nomad::storage
