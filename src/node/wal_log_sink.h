#pragma once

// The log writer's sink in a server: the WAL, and the snapshot store for snapshots installed
// from the leader. Used on the log writer's thread only.

#include "node/log_writer.h"
#include "storage/snapshot_store.h"
#include "storage/wal.h"

namespace nomad::node {

class WalLogSink final : public LogSink {
 public:
  WalLogSink(storage::Wal& wal, storage::SnapshotStore& snapshots, bool fsync)
      : wal_(wal), snapshots_(snapshots), fsync_(fsync) {}

  Status save_installed_snapshot(const storage::Snapshot& snapshot) override {
    bool out_of_space = false;
    Status s = snapshots_.save(snapshot, fsync_, &out_of_space);
    if (s) {
      s = wal_.write_snapshot_installed(snapshot.index, snapshot.term);
      out_of_space = !s && wal_.out_of_space();
    }
    out_of_space_ = !s && out_of_space;
    return s;
  }
  Status write(const std::optional<raft::HardState>& hard_state,
               const std::vector<raft::Entry>& entries) override {
    Status s = wal_.write(hard_state, entries);
    out_of_space_ = !s && wal_.out_of_space();
    return s;
  }
  Status sync() override {
    out_of_space_ = false;
    return wal_.sync();
  }
  Status release_to(raft::Index index) override { return wal_.release_to(index); }
  bool out_of_space() const override { return out_of_space_; }
  bool sync_failed() const override { return wal_.sync_failed(); }

 private:
  storage::Wal& wal_;
  storage::SnapshotStore& snapshots_;
  bool fsync_;
  bool out_of_space_ = false;
};

}  // namespace nomad::node
