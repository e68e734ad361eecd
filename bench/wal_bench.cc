// Append + fdatasync of one batch of 200-byte entries: what one Ready costs on this disk.
// Group commit is the lever: the sync costs about the same for 1 entry as for 256.

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>

#include "storage/wal.h"

using namespace nomad;

static void BM_WalAppendSync(benchmark::State& state) {
  std::string pattern = (std::filesystem::temp_directory_path() / "nomad-bench-XXXXXX").string();
  std::string dir = mkdtemp(pattern.data());
  storage::WalContents contents;
  Status status;
  auto wal = storage::Wal::open(dir, {.node_id = 1}, 0, &contents, &status);
  if (!wal) {
    state.SkipWithError(status.message().c_str());
    return;
  }
  const size_t batch = static_cast<size_t>(state.range(0));
  raft::Index next = 1;
  std::vector<raft::Entry> entries(batch);
  for (auto _ : state) {
    for (auto& e : entries) e = {1, next++, raft::EntryType::kNormal, std::string(200, 'x')};
    if (!wal->write(raft::HardState{1, 1, next - 1}, entries) || !wal->sync()) {
      state.SkipWithError("write failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  wal.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_WalAppendSync)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

BENCHMARK_MAIN();
