// Kills a WAL writer process with SIGKILL at random points, restarts it, and checks that every
// entry it reported durable is still there, in order, with its contents.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "raft/rng.h"
#include "storage/file_util.h"
#include "storage/record.h"
#include "storage/sync_failure.h"
#include "storage/wal.h"
#include "support/temp_dir.h"

namespace nomad::storage {
namespace {

struct Writer {
  pid_t pid = -1;
  FILE* out = nullptr;
};

Writer start_writer(const std::string& dir, uint64_t seed) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::string seed_arg = std::to_string(seed);
    execl(WAL_CRASH_WRITER, WAL_CRASH_WRITER, dir.c_str(), seed_arg.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  return {pid, fdopen(fds[0], "r")};
}

// Reads the writer's reports until it has made `lines` batches durable, then kills it (with 0,
// possibly in the middle of its recovery). Returns the highest index it reported durable.
raft::Index run_and_kill(Writer w, int lines, raft::Index durable) {
  char line[128];
  int seen = 0;
  while (seen < lines && std::fgets(line, sizeof(line), w.out)) {
    unsigned long long n;
    if (std::sscanf(line, "durable %llu", &n) == 1) {
      durable = n;
      ++seen;
    } else if (std::sscanf(line, "recovered %llu", &n) == 1) {
      durable = n;
    }
  }
  kill(w.pid, SIGKILL);
  int status = 0;
  waitpid(w.pid, &status, 0);
  std::fclose(w.out);
  return durable;
}

// Segments whose bytes after their records (reserved space, a torn write) were not cut off.
std::vector<std::string> segments_with_a_tail(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const std::string& path : paths) {
    std::string data;
    EXPECT_TRUE(read_file(path, &data).is_ok()) << path;
    size_t end = 0;
    for (ReadResult r; (r = read_record(data, end)).status == ReadStatus::kRecord;) {
      end = r.next_offset;
    }
    if (end != data.size()) out.push_back(path);
  }
  return out;
}

TEST(WalCrash, EveryEntryReportedDurableSurvivesSigkill) {
  testing::TempDir dir;
  raft::Rng rng(20261127);
  raft::Index durable = 0;
  const int kRounds = 25;
  for (int round = 0; round < kRounds; ++round) {
    Writer w = start_writer(dir.path(), rng.next());
    // Kill after a random number of syncs (sometimes during recovery, with 0).
    raft::Index reported = run_and_kill(w, static_cast<int>(rng.below(40)), durable);
    ASSERT_GE(reported, durable) << "the writer recovered less than it had reported durable";
    durable = reported;

    WalContents contents;
    Status status;
    auto wal =
        Wal::open(dir.path(), {.node_id = 1, .segment_bytes = 64 << 10}, 0, &contents, &status);
    ASSERT_TRUE(wal) << status.message();
    ASSERT_GE(contents.entries.size(), durable) << "round " << round;
    for (size_t i = 0; i < contents.entries.size(); ++i) {
      const raft::Entry& e = contents.entries[i];
      ASSERT_EQ(e.index, i + 1);
      std::string expected = "entry-" + std::to_string(i + 1);
      ASSERT_EQ(e.data.substr(0, expected.size()), expected) << "round " << round;
    }
    durable = contents.entries.size();  // the next writer continues from here

    // Recovery cut every segment it read; only the new one keeps its reserved space.
    std::vector<std::string> files;
    for (auto& f : std::filesystem::directory_iterator(dir.path())) files.push_back(f.path());
    std::sort(files.begin(), files.end());
    files.pop_back();
    ASSERT_EQ(segments_with_a_tail(files), std::vector<std::string>{}) << "round " << round;
  }
  EXPECT_GT(durable, 0u);
}

// An fdatasync that fails (EIO, injected) stops the process with a message that says why and
// what to do, and with its own exit status; a restart recovers everything reported durable.
TEST(WalCrash, AFailedFdatasyncStopsTheWriterWithTheReasonAndTheWalRecovers) {
  testing::TempDir dir;
  int out[2], err[2];
  ASSERT_EQ(pipe(out), 0);
  ASSERT_EQ(pipe(err), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    close(out[0]);
    close(err[0]);
    setenv("WAL_CRASH_WRITER_FAIL_SYNC_AFTER", "5", 1);
    execl(WAL_CRASH_WRITER, WAL_CRASH_WRITER, dir.path().c_str(), "7", nullptr);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  // The writer stops on its own after five syncs; the pipes end when it exits.
  FILE* out_file = fdopen(out[0], "r");
  raft::Index durable = 0;
  char line[256];
  while (std::fgets(line, sizeof(line), out_file)) {
    unsigned long long n;
    if (std::sscanf(line, "durable %llu", &n) == 1) durable = n;
  }
  std::fclose(out_file);
  std::string errors;
  FILE* err_file = fdopen(err[0], "r");
  while (std::fgets(line, sizeof(line), err_file)) errors += line;
  std::fclose(err_file);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the writer did not exit by itself";
  EXPECT_EQ(WEXITSTATUS(status), kExitSyncFailed) << errors;
  EXPECT_NE(errors.find("fdatasync of " + dir.path()), std::string::npos) << errors;
  EXPECT_NE(errors.find("failed: Input/output error"), std::string::npos) << errors;
  EXPECT_NE(errors.find("cannot be retried safely"), std::string::npos) << errors;
  EXPECT_NE(errors.find("restart the node to recover from its WAL"), std::string::npos) << errors;
  EXPECT_GT(durable, 0u);

  WalContents contents;
  Status recovered;
  auto wal =
      Wal::open(dir.path(), {.node_id = 1, .segment_bytes = 64 << 10}, 0, &contents, &recovered);
  ASSERT_TRUE(wal) << recovered.message();
  ASSERT_GE(contents.entries.size(), durable);
  for (size_t i = 0; i < contents.entries.size(); ++i) {
    ASSERT_EQ(contents.entries[i].index, i + 1);
  }
}

}  // namespace
}  // namespace nomad::storage
