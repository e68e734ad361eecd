// Writes a few valid WAL segments into DIR as the fuzzer's starting corpus, so it begins
// from well-formed records and mutates them rather than searching for a valid header.

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "storage/wal.h"

using namespace nomad;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make-seed-corpus DIR\n");
    return 2;
  }
  std::string out = argv[1];
  std::filesystem::create_directories(out);
  std::string work = out + "/.wal";
  std::filesystem::remove_all(work);
  {
    storage::WalContents contents;
    Status status;
    auto wal = storage::Wal::open(work, {.node_id = 1, .segment_bytes = 1 << 10}, 0, &contents,
                                  &status);
    if (!wal) {
      std::fprintf(stderr, "%s\n", status.message().c_str());
      return 1;
    }
    for (raft::Index i = 1; i <= 30; ++i) {
      (void)wal->write(raft::HardState{1 + i / 10, 1, i - 1},
                       {{1 + i / 10, i, raft::EntryType::kNormal, "cmd " + std::to_string(i)}});
    }
  }
  int n = 0;
  for (auto& f : std::filesystem::directory_iterator(work)) {
    std::filesystem::copy_file(f.path(), out + "/seed-" + std::to_string(n++),
                               std::filesystem::copy_options::overwrite_existing);
  }
  std::filesystem::remove_all(work);
  return 0;
}
