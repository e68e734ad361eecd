#pragma once

// The log writer's sink over the node's stores: the log store (the WAL in a server), and the
// snapshot storage for snapshots installed from the leader. Used on the log writer's thread
// only.

#include "node/log_writer.h"
#include "node/node_deps.h"

namespace nomad::node {

class StoreLogSink final : public LogSink {
 public:
  StoreLogSink(LogStore& log, SnapshotStorage& snapshots) : log_(log), snapshots_(snapshots) {}

  Status save_installed_snapshot(const storage::Snapshot& snapshot) override {
    bool out_of_space = false;
    Status s = snapshots_.save(snapshot, &out_of_space);
    if (s) {
      s = log_.write_snapshot_installed(snapshot.index, snapshot.term);
      out_of_space = !s && log_.out_of_space();
    }
    out_of_space_ = !s && out_of_space;
    return s;
  }
  Status write(const std::optional<raft::HardState>& hard_state,
               const std::vector<raft::Entry>& entries) override {
    Status s = log_.write(hard_state, entries);
    out_of_space_ = !s && log_.out_of_space();
    return s;
  }
  Status sync() override {
    out_of_space_ = false;
    return log_.sync();
  }
  Status release_to(raft::Index index) override { return log_.release_to(index); }
  bool out_of_space() const override { return out_of_space_; }
  bool sync_failed() const override { return log_.sync_failed(); }

 private:
  LogStore& log_;
  SnapshotStorage& snapshots_;
  bool out_of_space_ = false;
};

}  // namespace nomad::node
