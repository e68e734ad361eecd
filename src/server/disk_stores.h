#pragma once

// The node's log and snapshot stores on disk: storage::Wal and storage::SnapshotStore behind
// the interfaces the node works with (node/node_deps.h).

#include <memory>
#include <string>

#include "node/node_deps.h"
#include "storage/snapshot_store.h"
#include "storage/wal.h"

namespace nomad::server {

// The WAL in `dir`, opened by recover().
class WalLogStore final : public node::LogStore {
 public:
  WalLogStore(std::string dir, storage::WalOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}

  Status recover(raft::Index snapshot_index, storage::WalContents* contents) override;
  Status write(const std::optional<raft::HardState>& hard_state,
               const std::vector<raft::Entry>& entries) override {
    return wal_->write(hard_state, entries);
  }
  Status sync() override { return wal_->sync(); }
  Status write_snapshot_installed(raft::Index index, raft::Term term) override {
    return wal_->write_snapshot_installed(index, term);
  }
  Status release_to(raft::Index index) override { return wal_->release_to(index); }
  bool out_of_space() const override { return wal_->out_of_space(); }
  bool sync_failed() const override { return wal_->sync_failed(); }

 private:
  std::string dir_;
  storage::WalOptions options_;
  std::unique_ptr<storage::Wal> wal_;
};

class DiskSnapshots final : public node::SnapshotStorage {
 public:
  DiskSnapshots(std::string dir, bool fsync) : store_(std::move(dir)), fsync_(fsync) {}

  Status load_latest(std::optional<storage::Snapshot>* out) override {
    return store_.load_latest(out);
  }
  using node::SnapshotStorage::save;
  Status save(raft::Index index, raft::Term term, const raft::Membership& membership,
              std::string_view data, bool* out_of_space) override {
    return store_.save(index, term, membership, data, fsync_, out_of_space);
  }
  std::string where() const override { return store_.dir(); }

 private:
  storage::SnapshotStore store_;
  bool fsync_;
};

}  // namespace nomad::server
