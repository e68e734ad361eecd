#pragma once

// An in-memory node::SnapshotStorage for in-process node tests. A save is durable once it
// returns OK. A test can make saves fail (fail_saves()) or hold them (hold_saves(): save()
// blocks until release_saves()), to see what the node does before a snapshot is durable.

#include <condition_variable>
#include <mutex>
#include <optional>

#include "node/node_deps.h"

namespace nomad::node::testing {

class MemorySnapshots final : public SnapshotStorage {
 public:
  Status load_latest(std::optional<storage::Snapshot>* out) override {
    std::lock_guard lock(mu_);
    *out = latest_;
    return Status::ok();
  }

  using SnapshotStorage::save;
  Status save(raft::Index index, raft::Term term, const raft::Membership& membership,
              std::string_view data, bool* out_of_space) override {
    std::unique_lock lock(mu_);
    ++attempts_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !hold_; });
    if (out_of_space) *out_of_space = false;
    if (fail_) return Status::error("injected snapshot failure");
    if (!latest_ || index > latest_->index)
      latest_ = storage::Snapshot{index, term, std::string(data), membership};
    return Status::ok();
  }

  std::string where() const override { return "memory"; }

  // --- the test's side ---
  void fail_saves(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }
  void hold_saves() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void release_saves() {
    std::lock_guard lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }
  // save() calls so far, finished or not.
  size_t attempts() const {
    std::lock_guard lock(mu_);
    return attempts_;
  }
  // The index of the newest durable snapshot (0: none).
  raft::Index durable_index() const {
    std::lock_guard lock(mu_);
    return latest_ ? latest_->index : 0;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<storage::Snapshot> latest_;
  bool fail_ = false;
  bool hold_ = false;
  size_t attempts_ = 0;
};

}  // namespace nomad::node::testing
