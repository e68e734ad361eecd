#pragma once

// An in-memory node::LogStore for in-process node tests. It keeps what was written apart from
// what was synced, so a test can crash it (crash(): every write not yet synced is lost) and
// start a new node from what survived. A test can hold syncs (hold_syncs()): sync() then
// blocks until release_syncs(), so the test sees what the node does before its write is
// durable, and fill its disk (set_disk_full()). Thread-safe: the node's loop writes, the test
// inspects.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "node/node_deps.h"

namespace nomad::node::testing {

class MemoryLogStore final : public LogStore {
 public:
  Status recover(raft::Index snapshot_index, storage::WalContents* contents) override {
    std::lock_guard lock(mu_);
    written_ = durable_;
    contents->hard_state = durable_.hard_state;
    contents->entries.clear();
    for (const auto& [index, entry] : durable_.entries) {
      if (index > snapshot_index) contents->entries.push_back(entry);
    }
    return Status::ok();
  }

  Status write(const std::optional<raft::HardState>& hard_state,
               const std::vector<raft::Entry>& entries) override {
    std::lock_guard lock(mu_);
    out_of_space_ = disk_full_;
    if (disk_full_) return Status::error("injected: no space left on device");
    if (!entries.empty()) {
      // A rewritten index replaces the suffix from there, as the WAL does on replay.
      written_.entries.erase(written_.entries.lower_bound(entries.front().index),
                             written_.entries.end());
      for (const auto& e : entries) written_.entries[e.index] = e;
    }
    if (hard_state) written_.hard_state = *hard_state;
    ++writes_;
    return Status::ok();
  }

  Status sync() override {
    std::unique_lock lock(mu_);
    ++syncs_waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !hold_syncs_; });
    --syncs_waiting_;
    durable_ = written_;
    ++syncs_;
    cv_.notify_all();
    return Status::ok();
  }

  Status write_snapshot_installed(raft::Index, raft::Term) override {
    std::lock_guard lock(mu_);
    written_.entries.clear();  // the log continues after the snapshot
    return Status::ok();
  }

  Status release_to(raft::Index index) override {
    std::function<void(raft::Index)> hook;
    {
      std::lock_guard lock(mu_);
      written_.entries.erase(written_.entries.begin(), written_.entries.upper_bound(index));
      durable_.entries.erase(durable_.entries.begin(), durable_.entries.upper_bound(index));
      released_to_ = std::max(released_to_, index);
      hook = on_release_;
    }
    if (hook) hook(index);
    return Status::ok();
  }

  bool out_of_space() const override {
    std::lock_guard lock(mu_);
    return out_of_space_;
  }
  bool sync_failed() const override { return false; }

  // --- the test's side ---

  // While full, every write fails for want of space and keeps nothing (as the WAL's does).
  void set_disk_full(bool full) {
    std::lock_guard lock(mu_);
    disk_full_ = full;
  }
  // Loses every write since the last sync, as a power cut would.
  void crash() {
    std::lock_guard lock(mu_);
    written_ = durable_;
  }
  // From now on sync() blocks until release_syncs().
  void hold_syncs() {
    std::lock_guard lock(mu_);
    hold_syncs_ = true;
  }
  void release_syncs() {
    std::lock_guard lock(mu_);
    hold_syncs_ = false;
    cv_.notify_all();
  }
  // Whether a sync() is blocked on hold_syncs() now.
  bool sync_blocked() const {
    std::lock_guard lock(mu_);
    return syncs_waiting_ > 0;
  }
  // Runs on the loop thread at each release_to(), after it.
  void on_release(std::function<void(raft::Index)> hook) {
    std::lock_guard lock(mu_);
    on_release_ = std::move(hook);
  }

  raft::Index released_to() const {
    std::lock_guard lock(mu_);
    return released_to_;
  }
  size_t syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
  }
  raft::Index durable_last_index() const {
    std::lock_guard lock(mu_);
    return durable_.entries.empty() ? 0 : durable_.entries.rbegin()->first;
  }
  raft::HardState durable_hard_state() const {
    std::lock_guard lock(mu_);
    return durable_.hard_state;
  }

 private:
  struct State {
    raft::HardState hard_state;
    std::map<raft::Index, raft::Entry> entries;
  };

  mutable std::mutex mu_;
  std::condition_variable cv_;
  State written_;  // what a read right now would see
  State durable_;  // what survives crash()
  bool hold_syncs_ = false;
  bool disk_full_ = false;
  bool out_of_space_ = false;
  size_t syncs_waiting_ = 0;
  size_t syncs_ = 0;
  size_t writes_ = 0;
  raft::Index released_to_ = 0;
  std::function<void(raft::Index)> on_release_;
};

}  // namespace nomad::node::testing
