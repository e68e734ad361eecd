// A process that appends to a WAL as fast as it can and, after every sync, prints the last
// index that is now durable. The crash test kills it with SIGKILL at random moments.
//
//   wal-crash-writer DIR SEED
//
// On start it recovers DIR and continues after the last recovered entry; entry i carries the
// payload "entry-<i>" so the test can check contents as well as order.
//
// With WAL_CRASH_WRITER_FAIL_SYNC_AFTER=N in the environment, every fdatasync after the first
// N fails with EIO (an injected fault), and the writer stops as a node does: the message on
// stderr and exit status storage::kExitSyncFailed.

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "raft/rng.h"
#include "storage/sync_failure.h"
#include "storage/wal.h"

using namespace nomad;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: wal-crash-writer DIR SEED\n");
    return 2;
  }
  storage::WalContents contents;
  Status status;
  storage::IoFaults faults;
  const char* fail_sync_after = std::getenv("WAL_CRASH_WRITER_FAIL_SYNC_AFTER");
  long syncs_left = fail_sync_after ? std::strtol(fail_sync_after, nullptr, 10) : -1;
  // Small segments so that kills also land around rollovers.
  auto wal = storage::Wal::open(
      argv[1],
      {.node_id = 1, .segment_bytes = 64 << 10, .faults = fail_sync_after ? &faults : nullptr}, 0,
      &contents, &status);
  if (!wal) {
    std::fprintf(stderr, "wal-crash-writer: %s\n", status.message().c_str());
    return 1;
  }
  raft::Rng rng(std::strtoull(argv[2], nullptr, 10));
  raft::Index next = contents.entries.size() + 1;
  std::printf("recovered %llu\n", static_cast<unsigned long long>(next - 1));
  std::fflush(stdout);
  for (int batch = 0; batch < 100000; ++batch) {
    std::vector<raft::Entry> entries;
    size_t count = 1 + rng.below(64);
    for (size_t i = 0; i < count; ++i, ++next) {
      entries.push_back({1, next, raft::EntryType::kNormal,
                         "entry-" + std::to_string(next) + std::string(rng.below(300), 'p')});
    }
    if (Status s = wal->write(raft::HardState{1, 1, next - 1}, entries); !s) {
      std::fprintf(stderr, "wal-crash-writer: %s\n", s.message().c_str());
      return 1;
    }
    if (syncs_left >= 0 && syncs_left-- == 0) faults.sync_error = EIO;
    if (Status s = wal->sync(); !s) {
      if (wal->sync_failed()) {
        std::fprintf(stderr, "wal-crash-writer: %s\n", storage::sync_failure_message(s).c_str());
        std::_Exit(storage::kExitSyncFailed);
      }
      std::fprintf(stderr, "wal-crash-writer: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("durable %llu\n", static_cast<unsigned long long>(next - 1));
    std::fflush(stdout);
  }
  return 0;
}
