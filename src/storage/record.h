#pragma once

// The WAL record format. Every record is
//   u32 payload length | u8 type | 3 zero bytes | u32 CRC-32C of payload | u32 CRC-32C of the
//   12 bytes before it
// followed by the payload, all little-endian. The header has its own checksum so that a
// damaged length field is recognised as damage and never mistaken for a torn tail.
//
// A segment file is reserved at its full size up front, so the records may be followed by
// zeros up to the end of the file: unused space, not damage. An all-zero header never passes
// its checksum, so such a tail cannot be mistaken for a record.

#include <cstdint>
#include <string>
#include <string_view>

namespace nomad::storage {

enum class RecordType : uint8_t {
  kSegmentHeader = 1,  // first record of every segment file
  kHardState = 2,
  kEntry = 3,
  kSnapshotInstalled = 4,  // the log restarts after a snapshot received from the leader
};

inline constexpr size_t kRecordHeaderSize = 16;
inline constexpr uint32_t kMaxRecordPayload = 64u << 20;

void append_record(RecordType type, std::string_view payload, std::string* out);

enum class ReadStatus {
  kRecord,   // a whole, intact record
  kEnd,      // clean end of the data: nothing, or only zeros, left
  kTorn,     // an incomplete last write: what a crash leaves behind; safe to cut here
  kCorrupt,  // damage that a crash cannot explain
};

struct ReadResult {
  ReadStatus status = ReadStatus::kEnd;
  RecordType type = RecordType::kEntry;
  std::string_view payload;
  size_t next_offset = 0;
  std::string problem;  // for kTorn and kCorrupt: what is wrong
};

// Reads the record at `offset` of `data` (a whole segment file).
ReadResult read_record(std::string_view data, size_t offset);

}  // namespace nomad::storage
