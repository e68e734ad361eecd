#pragma once

// One simulated server: a raft::Core, the disk it persists to, its queue of writes not yet
// durable and its state machine. A crash destroys the Core, the state machine, the queued
// writes and whatever the core had not yet handed out through ready(); the disk survives, and
// a restart builds a new Core and state machine from it, as a real server rebuilds from its
// snapshot and WAL.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "raft/core.h"
#include "raft/types.h"
#include "sim_time.h"
#include "state_machine.h"

namespace nomad::sim {

// What survives a crash: the last snapshot, hard state and log written through ready() or
// by compaction.
struct SimDisk {
  raft::HardState hard_state;
  raft::Index snapshot_index = 0;
  raft::Term snapshot_term = 0;
  std::shared_ptr<const std::string> snapshot_data;
  raft::Membership snapshot_membership;  // the configuration as of snapshot_index
  std::vector<raft::Entry> entries;      // entries[i] has index snapshot_index + 1 + i

  raft::Index last_index() const { return snapshot_index + entries.size(); }
  // snapshot_index < index <= last_index()
  const raft::Entry& at(raft::Index index) const { return entries[index - snapshot_index - 1]; }
};

class SimNode {
 public:
  // `config` carries id, voters and limits; its seed is replaced on every start.
  SimNode(raft::Config config, Time tick_phase);

  raft::NodeId id() const { return config_.id; }
  bool up() const { return core_ != nullptr; }
  // Counts starts: events scheduled for an earlier incarnation are ignored.
  uint64_t incarnation() const { return incarnation_; }
  Time tick_phase() const { return tick_phase_; }

  raft::Core& core() { return *core_; }
  const raft::Core& core() const { return *core_; }
  const SimDisk& disk() const { return disk_; }
  const StateMachine& state_machine() const { return state_; }

  // Boot or restart from the disk; the state machine restarts from the disk's snapshot.
  void start(uint64_t seed);
  // Everything not yet persisted is lost: unpersisted entries and votes, unsent messages.
  void crash();

  // Writes a Ready's snapshot, entries and hard state, as one atomic sync.
  void persist(const raft::Ready& ready);
  // Restores the state machine from an installed snapshot; false if its bytes are unreadable.
  bool install(const raft::Snapshot& snapshot);

  // The state machine: how far this incarnation has applied.
  raft::Index applied_index() const { return state_.applied; }
  void apply(const raft::Entry& entry) { state_.apply(entry); }

  // Snapshots the state machine at its applied index and compacts the core's log and the
  // disk up to it. False when the core refuses (nothing new to compact).
  bool compact(size_t padding);

  // A kReady event is pending for this incarnation.
  bool ready_scheduled = false;
  // Readys taken by the loop whose writes are not yet durable, oldest first: their snapshot,
  // hard state and entries, and the messages_after_append waiting for them. The first
  // `syncing` of them are the group the writer is making durable (a kDiskDone is pending).
  std::deque<raft::Ready> queued_writes;
  size_t syncing = 0;
  // The disk is full until then (SimOptions::disk_full_per_mille): writes fail.
  Time disk_full_until = 0;

 private:
  raft::Config config_;
  Time tick_phase_;
  std::unique_ptr<raft::Core> core_;
  uint64_t incarnation_ = 0;
  SimDisk disk_;
  StateMachine state_;
};

}  // namespace nomad::sim
