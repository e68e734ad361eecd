#pragma once

// What a Node works with, handed to it by whoever builds it: the process's composition root
// (server/node_host.h) gives it the WAL, the snapshot directory, the gRPC peer transport and
// the worker; tests give it in-memory stores and a loopback sender (tests/support/).
//
// The node opens no file and starts no connection itself. Every collaborator must outlive it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/peers.h"
#include "common/status.h"
#include "common/unix_time.h"
#include "jobs/job_store.h"
#include "raft/types.h"
#include "storage/snapshot_store.h"
#include "storage/wal.h"

namespace nomad::node {

// The durable Raft log and hard state (storage::Wal in a server). Called from the loop only.
class LogStore {
 public:
  virtual ~LogStore() = default;
  // Reads back what is durable; entries at or below `snapshot_index` are covered by the
  // snapshot. Called once, before anything is written. An error names what is damaged.
  virtual Status recover(raft::Index snapshot_index, storage::WalContents* contents) = 0;
  // Entries, then the hard state; not durable until sync(). On failure nothing of it is kept.
  virtual Status write(const std::optional<raft::HardState>& hard_state,
                       const std::vector<raft::Entry>& entries) = 0;
  // Makes everything written so far durable. A failure is final (sync_failed()).
  virtual Status sync() = 0;
  // A snapshot from the leader is durable: the log continues after `index`.
  virtual Status write_snapshot_installed(raft::Index index, raft::Term term) = 0;
  // Entries at or below `index` are covered by a durable snapshot and may be dropped.
  virtual Status release_to(raft::Index index) = 0;
  // Whether the last failed write failed for want of space (it may be retried later).
  virtual bool out_of_space() const = 0;
  // Whether a sync failed: nothing more can be made durable.
  virtual bool sync_failed() const = 0;
};

// Durable snapshots of the job store. save() runs on the loop or on the snapshot writer's
// thread, possibly both at once.
class SnapshotStorage {
 public:
  virtual ~SnapshotStorage() = default;
  virtual Status load_latest(std::optional<storage::Snapshot>* out) = 0;
  // Durable when it returns OK. *out_of_space (when given): failed for want of space.
  // `data` is not copied: a snapshot of a large store is tens of megabytes.
  // `membership`: the cluster's configuration as of `index` (empty: none to store).
  virtual Status save(raft::Index index, raft::Term term, const raft::Membership& membership,
                      std::string_view data, bool* out_of_space = nullptr) = 0;
  Status save(const storage::Snapshot& snapshot, bool* out_of_space = nullptr) {
    return save(snapshot.index, snapshot.term, snapshot.membership, snapshot.data, out_of_space);
  }
  // Where snapshots live, for error messages.
  virtual std::string where() const = 0;
};

// Raft messages to the other voters. send() never blocks the loop; a peer out of reach loses
// its messages (Raft retransmits what matters).
class PeerSender {
 public:
  virtual ~PeerSender() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual void send(std::vector<raft::Message> messages) = 0;
  // The members changed: from now on, messages go to these peers (this node excluded).
  virtual void set_peers(const std::vector<PeerAddress>& peers) { (void)peers; }
};

// Time as the node reads it: steady for timeouts and ticks, wall for the stamps the
// coordinator writes into commands.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() const = 0;
  virtual int64_t wall_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }
  int64_t wall_ms() const override { return common::unix_now_ms(); }
};

// This node's worker, as the loop drives it (worker::Worker behind an adapter in a server).
class WorkerHooks {
 public:
  virtual ~WorkerHooks() = default;
  virtual void start() = 0;
  // After the loop stopped. A report blocked on a stalled leader gives up first.
  virtual void stop() = 0;
  // On the loop thread once the node caught up with its commit index: `changed` names the
  // jobs changed since the last call, `store` shows the state at `applied_index`.
  virtual void on_applied(const jobs::JobStore& store, const std::vector<std::string>& changed,
                          uint64_t applied_index) = 0;
  // The known leader changed: whatever carries reports to the old one is of no more use.
  virtual void leader_changed() = 0;
  // A new leader is known: report to it now rather than at the next heartbeat.
  virtual void report_now() = 0;
};

// A worker that runs nothing (nodes with --worker-slots 0 in tests).
class NoWorker final : public WorkerHooks {
 public:
  void start() override {}
  void stop() override {}
  void on_applied(const jobs::JobStore&, const std::vector<std::string>&, uint64_t) override {}
  void leader_changed() override {}
  void report_now() override {}
};

struct NodeDeps {
  LogStore* log = nullptr;
  SnapshotStorage* snapshots = nullptr;
  PeerSender* peers = nullptr;
  Clock* clock = nullptr;         // null: SystemClock
  WorkerHooks* worker = nullptr;  // null: NoWorker
};

}  // namespace nomad::node
