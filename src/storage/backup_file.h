#pragma once

// The file `operator snapshot save` writes and `server --restore` reads: one consistent image
// of the job store, taken from the leader, with what an operator needs to judge it before use
// (the index and term it covers, the cluster it came from, when, how many jobs) and checksums
// that catch a damaged or truncated copy. Unlike the data directory's own snapshots
// (snapshot_store.h) it is meant to be carried around, so it says what it is and which format
// version wrote it.
//
// Layout (integers little-endian):
//   "NLBACKUP" | u32 format version | u32 metadata length M | u32 CRC-32C of the metadata
//   metadata (M bytes): u64 index | u64 term | i64 created_at_ms | u64 job_count
//                       | u64 data length | u32 CRC-32C of the data
//                       | u32 length, cluster id | u32 member count,
//                         each: u64 id | u8 voter | u32 length, address
//   data: the job store's snapshot bytes (jobs::JobStore::snapshot)

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace nomad::storage {

inline constexpr uint32_t kBackupFormatVersion = 1;
// Bounds on what a header may claim, so that a damaged one cannot ask for gigabytes.
inline constexpr uint32_t kMaxBackupMetadataBytes = 1 << 20;
inline constexpr uint32_t kMaxBackupMembers = 1024;

struct BackupMember {
  uint64_t id = 0;
  bool voter = true;
  std::string address;  // host:port of its gRPC listener
  bool operator==(const BackupMember&) const = default;
};

struct BackupHeader {
  uint32_t version = kBackupFormatVersion;
  uint64_t index = 0;  // last log index the state covers
  uint64_t term = 0;   // term of that entry
  int64_t created_at_ms = 0;
  uint64_t job_count = 0;
  uint64_t data_length = 0;
  uint32_t data_crc = 0;
  std::string cluster_id;
  std::vector<BackupMember> members;  // the cluster's members when it was taken
  bool operator==(const BackupHeader&) const = default;
};

// The whole file for `header` (data_length and data_crc are computed here) and `data`.
std::string encode_backup(BackupHeader header, std::string_view data);

// Reads the header of a file's bytes. An error says whether the file is not a snapshot at all,
// of a format version this build cannot read, truncated or damaged; `name` (the path) leads it.
// The data's checksum is not checked here (see backup_data_intact).
Status decode_backup_header(std::string_view bytes, const std::string& name, BackupHeader* out,
                            size_t* data_offset);

// Whether the data after the header matches the header's checksum.
bool backup_data_intact(const BackupHeader& header, std::string_view bytes, size_t data_offset);

// The header and the data, both checked: a file fit to restore from.
Status decode_backup(std::string_view bytes, const std::string& name, BackupHeader* header,
                     std::string* data);

// Reads and checks the file at `path`.
Status read_backup_file(const std::string& path, BackupHeader* header, std::string* data);

// Writes `bytes` to `path` as a whole or not at all: a temporary file next to it, fsynced,
// renamed over `path`, the directory fsynced. A failure removes the temporary file.
Status write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace nomad::storage
