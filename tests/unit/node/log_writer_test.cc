// The log writer: writes in order, one sync for every write queued during the previous one,
// messages released only after their write is durable, a failure that discards the queue until
// the loop resumes it, and a stop that drains.

#include "node/log_writer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace nomad::node {
namespace {

using namespace std::chrono_literals;

// Records every call; a sync can be held until the test releases it, and the n-th write can
// fail as a full disk does.
class FakeSink : public LogSink {
 public:
  Status save_installed_snapshot(const storage::Snapshot& snapshot) override {
    std::lock_guard lock(mu_);
    ops_.push_back("snapshot " + std::to_string(snapshot.index));
    return Status::ok();
  }
  Status write(const std::optional<raft::HardState>& hard_state,
               const std::vector<raft::Entry>& entries) override {
    std::lock_guard lock(mu_);
    ++write_calls_;
    if (write_calls_ == fail_write_) {
      out_of_space_ = true;
      return Status::error("no space left on device");
    }
    out_of_space_ = false;
    std::string op = "write";
    for (const raft::Entry& e : entries) op += " " + std::to_string(e.index);
    if (hard_state) op += " hs";
    ops_.push_back(op);
    written_ = entries.empty() ? written_ : entries.back().index;
    return Status::ok();
  }
  Status sync() override {
    std::unique_lock lock(mu_);
    ++syncs_started_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !hold_syncs_; });
    ops_.push_back("sync");
    durable_ = written_;
    return Status::ok();
  }
  Status release_to(raft::Index index) override {
    std::lock_guard lock(mu_);
    ops_.push_back("release " + std::to_string(index));
    return Status::ok();
  }
  bool out_of_space() const override { return out_of_space_; }
  bool sync_failed() const override { return false; }

  void hold_syncs(bool hold) {
    std::lock_guard lock(mu_);
    hold_syncs_ = hold;
    cv_.notify_all();
  }
  // Waits until `count` syncs have started (the writer is inside the count-th one).
  bool wait_syncs_started(int count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return syncs_started_ >= count; });
  }
  void fail_write(int nth) {
    std::lock_guard lock(mu_);
    fail_write_ = nth;
  }
  std::vector<std::string> ops() {
    std::lock_guard lock(mu_);
    return ops_;
  }
  raft::Index durable() {
    std::lock_guard lock(mu_);
    return durable_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> ops_;
  bool hold_syncs_ = false;
  int syncs_started_ = 0;
  int write_calls_ = 0;
  int fail_write_ = 0;
  bool out_of_space_ = false;
  raft::Index written_ = 0;
  raft::Index durable_ = 0;
};

raft::Message ack(raft::Index index) {
  raft::Message m;
  m.type = raft::MessageType::kAppendResponse;
  m.from = 2;
  m.to = 1;
  m.index = index;
  return m;
}

// One Ready's write: entry `index` of term 1 and the acknowledgement that waits for it.
LogWrite entry_write(raft::Index index) {
  LogWrite w;
  w.entries.push_back(raft::Entry{1, index, raft::EntryType::kNormal, "x"});
  w.must_sync = true;
  w.after_append.push_back(ack(index));
  return w;
}

// What the writer handed back: sent messages and reports, with a deadline to wait for them.
class Outputs {
 public:
  LogWriter::Send send(FakeSink& sink) {
    return [this, &sink](std::vector<raft::Message> ms) {
      std::lock_guard lock(mu_);
      for (const raft::Message& m : ms) {
        // Only what the sink made durable may be acknowledged.
        if (m.index > sink.durable()) early_ = true;
        sent_.push_back(m.index);
      }
      cv_.notify_all();
    };
  }
  LogWriter::Report report() {
    return [this](LogWriteReport r) {
      std::lock_guard lock(mu_);
      reports_.push_back(std::move(r));
      cv_.notify_all();
    };
  }
  bool wait_reports(size_t count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return reports_.size() >= count; });
  }
  std::vector<raft::Index> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }
  std::vector<LogWriteReport> reports() {
    std::lock_guard lock(mu_);
    return reports_;
  }
  bool early() {
    std::lock_guard lock(mu_);
    return early_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<raft::Index> sent_;
  std::vector<LogWriteReport> reports_;
  bool early_ = false;
};

TEST(LogWriter, WritesInOrderAndReleasesMessagesOnlyOnceDurable) {
  FakeSink sink;
  Outputs out;
  LogWriter writer(sink, out.send(sink), out.report());
  writer.start();
  for (raft::Index i = 1; i <= 3; ++i) writer.submit(entry_write(i));
  writer.stop();

  std::vector<std::string> writes;
  for (const std::string& op : sink.ops()) {
    if (op != "sync") writes.push_back(op);
  }
  EXPECT_EQ(writes, (std::vector<std::string>{"write 1", "write 2", "write 3"}));
  EXPECT_EQ(out.sent(), (std::vector<raft::Index>{1, 2, 3}));
  EXPECT_FALSE(out.early()) << "an acknowledgement left before its entry was synced";
  ASSERT_FALSE(out.reports().empty());
  EXPECT_EQ(out.reports().back().persisted, (std::pair<raft::Index, raft::Term>{3, 1}));
  EXPECT_EQ(writer.writes(), 3u);
}

// Writes that queue up while a sync is in progress share the next sync.
TEST(LogWriter, GroupCommitsWritesQueuedDuringASync) {
  FakeSink sink;
  Outputs out;
  LogWriter writer(sink, out.send(sink), out.report());
  writer.start();
  sink.hold_syncs(true);
  writer.submit(entry_write(1));
  ASSERT_TRUE(sink.wait_syncs_started(1));
  for (raft::Index i = 2; i <= 6; ++i) writer.submit(entry_write(i));
  sink.hold_syncs(false);
  writer.stop();

  EXPECT_EQ(writer.syncs(), 2u) << "one sync for the first write, one for the five behind it";
  EXPECT_EQ(sink.ops(), (std::vector<std::string>{"write 1", "sync", "write 2", "write 3",
                                                  "write 4", "write 5", "write 6", "sync"}));
  ASSERT_EQ(out.reports().size(), 2u);
  EXPECT_EQ(out.reports()[1].writes, 5u);
  EXPECT_EQ(out.reports()[1].persisted, (std::pair<raft::Index, raft::Term>{6, 1}));
  EXPECT_EQ(out.sent(), (std::vector<raft::Index>{1, 2, 3, 4, 5, 6}));
}

// A write that needs no sync (only a commit index moved) costs none.
TEST(LogWriter, SyncsOnlyWhenAWriteMustBeDurable) {
  FakeSink sink;
  Outputs out;
  LogWriter writer(sink, out.send(sink), out.report());
  writer.start();
  LogWrite commit_only;
  commit_only.hard_state = raft::HardState{1, 1, 5};
  writer.submit(std::move(commit_only));
  writer.stop();
  EXPECT_EQ(sink.ops(), (std::vector<std::string>{"write hs"}));
  EXPECT_EQ(writer.syncs(), 0u);
}

// A failed write fails its group and discards everything behind it, with the messages; the
// writer drops submissions until the loop resumes it.
TEST(LogWriter, FailureDiscardsTheQueueUntilResumed) {
  FakeSink sink;
  Outputs out;
  LogWriter writer(sink, out.send(sink), out.report());
  writer.start();
  sink.hold_syncs(true);
  writer.submit(entry_write(1));
  ASSERT_TRUE(sink.wait_syncs_started(1));
  sink.fail_write(3);  // the second group: write 2 succeeds, write 3 fails
  for (raft::Index i = 2; i <= 4; ++i) writer.submit(entry_write(i));
  sink.hold_syncs(false);
  ASSERT_TRUE(out.wait_reports(2));
  LogWriteReport failed = out.reports()[1];
  EXPECT_FALSE(failed.failure);
  EXPECT_TRUE(failed.out_of_space);
  EXPECT_FALSE(failed.persisted) << "part of a failed group was reported durable";
  EXPECT_EQ(failed.writes, 3u);

  writer.submit(entry_write(5));  // made before the loop heard of the failure: discarded
  writer.resume();
  writer.submit(entry_write(2));  // handed out again after Core::persist_failed()
  writer.stop();
  EXPECT_EQ(out.sent(), (std::vector<raft::Index>{1, 2})) << "only durable writes answered";
  EXPECT_EQ(out.reports().back().persisted, (std::pair<raft::Index, raft::Term>{2, 1}));
  for (const std::string& op : sink.ops()) EXPECT_NE(op, "write 5");
}

// An installed snapshot is written first, durable before the writes behind it, and the log's
// clean-up after a compaction runs only once the writes before it are done.
TEST(LogWriter, SnapshotFirstAndReleaseAfterTheWrites) {
  FakeSink sink;
  Outputs out;
  LogWriter writer(sink, out.send(sink), out.report());
  writer.start();
  sink.hold_syncs(true);
  writer.submit(entry_write(1));
  ASSERT_TRUE(sink.wait_syncs_started(1));
  LogWrite installed = entry_write(11);
  installed.snapshot = storage::Snapshot{10, 1, "state"};
  writer.submit(std::move(installed));
  LogWrite release;
  release.release_to = 10;
  writer.submit(std::move(release));
  sink.hold_syncs(false);
  writer.stop();
  EXPECT_EQ(sink.ops(), (std::vector<std::string>{"write 1", "sync", "snapshot 10", "write 11",
                                                  "sync", "release 10"}));
  EXPECT_EQ(out.reports().back().snapshot_saved, raft::Index{10});
}

// stop() returns only once everything submitted is written and answered.
TEST(LogWriter, StopDrainsTheQueue) {
  FakeSink sink;
  Outputs out;
  LogWriter writer(sink, out.send(sink), out.report());
  writer.start();
  sink.hold_syncs(true);
  writer.submit(entry_write(1));
  ASSERT_TRUE(sink.wait_syncs_started(1));
  for (raft::Index i = 2; i <= 50; ++i) writer.submit(entry_write(i));
  sink.hold_syncs(false);
  writer.stop();
  EXPECT_EQ(out.sent().size(), 50u);
  EXPECT_EQ(sink.durable(), 50u);
  EXPECT_EQ(writer.writes(), 50u);
}

}  // namespace
}  // namespace nomad::node
