#pragma once

// The node's log writer: one thread that makes the Readys' writes durable, so the node's loop
// never waits for the disk.
//
// The loop submits each Ready's write (an installed snapshot, the hard state, the entries) with
// the messages that must wait for it (Ready::messages_after_append). The thread takes every
// write queued when it looks, writes them in order and makes them durable with one sync (group
// commit: one fdatasync for however many Readys piled up during the previous one), then sends
// their messages and reports to the loop what is durable. The loop alone touches the core: the
// report goes through the loop's queue (the `report` callback), and the loop calls
// Core::persisted() from it.
//
// A failed write fails its whole group: nothing of the group is reported durable, and it and
// every write queued behind it are discarded with their messages. The thread then discards
// every further submission until the loop, having told the core (Core::persist_failed(), which
// hands out again everything not durable), calls resume(): those writes were made from a log
// that assumed the failed one would succeed.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/status.h"
#include "raft/types.h"
#include "storage/snapshot_store.h"

namespace nomad::node {

// Where the writer puts the log: the WAL and the snapshot store in a server, a fake in tests.
// Called on the writer's thread only.
class LogSink {
 public:
  virtual ~LogSink() = default;
  // Makes a snapshot received from the leader durable and records in the log that it replaces
  // everything written before.
  virtual Status save_installed_snapshot(const storage::Snapshot& snapshot) = 0;
  // Writes the entries, then the hard state; durable only after sync().
  virtual Status write(const std::optional<raft::HardState>& hard_state,
                       const std::vector<raft::Entry>& entries) = 0;
  virtual Status sync() = 0;
  // Drops log segments a durable snapshot covers up to `index`.
  virtual Status release_to(raft::Index index) = 0;
  // Why the last call failed: for want of space (the write left nothing behind and may be
  // retried once space returns), or a failed sync (the data may be gone: the process must stop).
  virtual bool out_of_space() const = 0;
  virtual bool sync_failed() const = 0;
};

// One Ready's write and the messages that wait for it.
struct LogWrite {
  std::optional<storage::Snapshot> snapshot;  // written first
  std::optional<raft::HardState> hard_state;
  std::vector<raft::Entry> entries;
  bool must_sync = false;
  std::vector<raft::Message> after_append;  // sent once this write and every earlier are durable
  std::optional<raft::Index> release_to;    // then drop segments a snapshot covers
};

// What one group of writes came to, reported to the loop.
struct LogWriteReport {
  size_t writes = 0;  // submissions the report covers (written, or failed and discarded)
  // The last entry now durable, for Core::persisted(), if the group wrote any.
  std::optional<std::pair<raft::Index, raft::Term>> persisted;
  std::optional<raft::Index> snapshot_saved;  // an installed snapshot now durable
  Status failure;                             // not ok: nothing of the group is durable
  bool out_of_space = false;                  // the failure was a full disk
  bool sync_failed = false;                   // the failure was a failed sync: stop the process
};

class LogWriter {
 public:
  using Send = std::function<void(std::vector<raft::Message>)>;
  using Report = std::function<void(LogWriteReport)>;

  // `send` and `report` run on the writer's thread.
  LogWriter(LogSink& sink, Send send, Report report);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  void start();
  // Queues a write behind every earlier one. Never blocks on the disk.
  void submit(LogWrite write);
  // After a failure report: writes submitted from now on are written again.
  void resume();
  // Writes everything still queued (unless a failure discards it), then ends the thread.
  void stop();

  uint64_t syncs() const { return syncs_.load(); }
  uint64_t writes() const { return writes_.load(); }

 private:
  void run();
  void write_group(std::vector<LogWrite>& group);

  LogSink& sink_;
  Send send_;
  Report report_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<LogWrite> queue_;
  bool stopping_ = false;
  bool failed_ = false;  // discarding submissions until resume()
  std::thread thread_;

  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> writes_{0};
};

}  // namespace nomad::node
