#include "storage/record.h"

#include <algorithm>
#include <cstring>

#include "storage/crc32c.h"
#include "storage/le_bytes.h"

namespace nomad::storage {
namespace {

uint32_t get_u32(const char* p) { return static_cast<uint32_t>(get_le(p, 4)); }

bool all_zero(std::string_view data) {
  return std::all_of(data.begin(), data.end(), [](char c) { return c == 0; });
}

bool known_type(uint8_t type) {
  return type >= static_cast<uint8_t>(RecordType::kSegmentHeader) &&
         type <= static_cast<uint8_t>(RecordType::kSnapshotInstalled);
}

}  // namespace

void append_record(RecordType type, std::string_view payload, std::string* out) {
  char header[kRecordHeaderSize] = {};
  put_u32_at(header, static_cast<uint32_t>(payload.size()));
  header[4] = static_cast<char>(type);
  put_u32_at(header + 8, crc32c(payload.data(), payload.size()));
  put_u32_at(header + 12, crc32c(header, 12));
  out->append(header, kRecordHeaderSize);
  out->append(payload);
}

ReadResult read_record(std::string_view data, size_t offset) {
  ReadResult r;
  std::string_view rest = data.substr(offset);
  if (rest.empty()) return r;  // kEnd
  auto fail = [&r](ReadStatus status, std::string problem) {
    r.status = status;
    r.problem = std::move(problem);
    return r;
  };
  // A short or bad header is the end if only zeros are left (reserved space never written),
  // a crash's unfinished write if only the header's own bytes are not zero, else damage.
  if (rest.size() < kRecordHeaderSize || get_u32(rest.data() + 12) != crc32c(rest.data(), 12)) {
    std::string_view header = rest.substr(0, kRecordHeaderSize);
    if (!all_zero(rest.substr(header.size()))) {
      return fail(ReadStatus::kCorrupt, "record header checksum mismatch");
    }
    if (all_zero(header)) return r;  // kEnd
    return fail(ReadStatus::kTorn, "incomplete record header");
  }
  const char* h = rest.data();
  uint32_t length = get_u32(h);
  auto type = static_cast<uint8_t>(h[4]);
  if (length > kMaxRecordPayload) {
    return fail(ReadStatus::kCorrupt, "record length " + std::to_string(length) + " exceeds limit");
  }
  if (!known_type(type)) {
    return fail(ReadStatus::kCorrupt, "unknown record type " + std::to_string(type) +
                                          " (written by a newer nomad-lite?)");
  }
  if (rest.size() < kRecordHeaderSize + length) {
    return fail(ReadStatus::kTorn, "record payload cut short");
  }
  std::string_view payload = rest.substr(kRecordHeaderSize, length);
  size_t end = kRecordHeaderSize + length;
  if (get_u32(h + 8) != crc32c(payload.data(), payload.size())) {
    // Damage in the last record of a file, with nothing but zeros after it, is a write that
    // did not finish; anything followed by data is corruption.
    if (all_zero(rest.substr(end))) return fail(ReadStatus::kTorn, "last record checksum mismatch");
    return fail(ReadStatus::kCorrupt, "record payload checksum mismatch");
  }
  r.status = ReadStatus::kRecord;
  r.type = static_cast<RecordType>(type);
  r.payload = payload;
  r.next_offset = offset + end;
  return r;
}

}  // namespace nomad::storage
