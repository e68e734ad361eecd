// libFuzzer target: arbitrary bytes as a node's newest snapshot file. SnapshotStore reads it
// as a restarting node does: a snapshot or a clear "damaged" error, never a crash. The file
// is named after the index and term in its header, so that inputs get past the name check;
// a snapshot that loads, saved again, must give the same bytes. The same bytes are also read as
// an operator's snapshot file (`operator snapshot inspect`, `server --restore`): a header and
// state, or a clear error, and a file that reads, written again, gives the same bytes.

#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_check.h"
#include "storage/backup_file.h"
#include "storage/file_util.h"
#include "storage/snapshot_store.h"

namespace fs = std::filesystem;
using namespace nomad;

namespace {

std::string g_dir;  // a directory of this process's own, removed at exit

uint64_t u64_at(const std::string& bytes, size_t offset) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && offset + i < bytes.size(); ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[offset + i])) << (8 * i);
  }
  return v;
}

std::string file_name(uint64_t index, uint64_t term) {
  char name[64];
  snprintf(name, sizeof(name), "snap-%016llx-%016llx.snap", static_cast<unsigned long long>(index),
           static_cast<unsigned long long>(term));
  return name;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string pattern = (fs::temp_directory_path() / "snapshot-fuzz-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  g_dir = pattern;
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(g_dir, ec);
  });
  return 0;
}

namespace {

void check_backup_file(const std::string& bytes) {
  storage::BackupHeader header;
  std::string state;
  Status status = storage::decode_backup(bytes, "f", &header, &state);
  if (!status) {
    FUZZ_CHECK(status.message().rfind("f ", 0) == 0, "a refused file is named in the error");
    return;
  }
  FUZZ_CHECK(header.data_length == state.size(), "the state is as long as the header says");
  FUZZ_CHECK(storage::encode_backup(header, state) == bytes,
             "a snapshot file that reads, written again, gives the same bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  check_backup_file(bytes);
  std::string read_dir = g_dir + "/read", write_dir = g_dir + "/write";
  fs::remove_all(read_dir);
  fs::remove_all(write_dir);
  fs::create_directories(read_dir);
  {
    std::ofstream out(read_dir + "/" + file_name(u64_at(bytes, 8), u64_at(bytes, 16)),
                      std::ios::binary);
    out << bytes;
  }

  std::optional<storage::Snapshot> snapshot;
  Status status = storage::SnapshotStore(read_dir).load_latest(&snapshot);
  if (!status) {
    FUZZ_CHECK(status.message().find("is damaged") != std::string::npos,
               "a bad snapshot file is reported as damaged");
    FUZZ_CHECK(!snapshot, "a damaged snapshot gives no snapshot");
    return 0;
  }
  FUZZ_CHECK(snapshot.has_value(), "a snapshot file that loads gives a snapshot");
  FUZZ_CHECK(storage::SnapshotStore(write_dir).save(*snapshot, /*fsync=*/false),
             "a loaded snapshot can be saved");
  std::string again;
  FUZZ_CHECK(
      storage::read_file(write_dir + "/" + file_name(snapshot->index, snapshot->term), &again),
      "the saved snapshot can be read");
  FUZZ_CHECK(again == bytes, "a loaded snapshot saved again gives the same bytes");
  return 0;
}
