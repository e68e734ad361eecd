#pragma once

// Durable snapshots of the replicated state machine. A snapshot is written to a temporary
// file, fsynced, renamed into place and the directory fsynced, so a crash leaves either the
// old snapshot or the new one, never half of one. Older snapshots are deleted once a newer
// one is durable. A save that fails (a full disk) removes its temporary file and leaves the
// previous snapshot as it was.
//
// File: snap-<index>-<term>.snap (16 hex digits each), holding
//   "NLSNAP1\n" | u64 index | u64 term | u64 data length | u32 CRC-32C of data | data
// or, when the snapshot carries the cluster's configuration (raft/membership.h),
//   "NLSNAP2\n" | u64 index | u64 term | u64 data length | u32 CRC-32C of data |
//   u32 membership length | u32 CRC-32C of membership | membership | data

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "raft/membership.h"
#include "raft/types.h"
#include "storage/file_util.h"

namespace nomad::storage {

struct Snapshot {
  raft::Index index = 0;          // last log index the state covers
  raft::Term term = 0;            // term of that entry
  std::string data;               // the state machine's serialized state
  raft::Membership membership{};  // the configuration as of `index` (empty: not stored)
};

class SnapshotStore {
 public:
  // `faults`: tests only, injected full disk or fsync errors.
  explicit SnapshotStore(std::string dir, IoFaults* faults = nullptr)
      : dir_(std::move(dir)), faults_(faults) {}

  // Makes `snapshot` durable and removes older ones. On failure *out_of_space (when given)
  // says whether it failed for want of space (ENOSPC, EDQUOT): then it may simply be retried
  // once space is freed.
  Status save(const Snapshot& snapshot, bool fsync = true, bool* out_of_space = nullptr) {
    return save(snapshot.index, snapshot.term, snapshot.membership, snapshot.data, fsync,
                out_of_space);
  }
  // With the configuration as of `index` (raft/membership.h), which a restart needs once the
  // configuration entries of the log are compacted away.
  Status save(raft::Index index, raft::Term term, const raft::Membership& membership,
              std::string_view data, bool fsync = true, bool* out_of_space = nullptr);
  // The same, for state held elsewhere: written as it is, never copied (a large store's
  // snapshot is tens of megabytes).
  Status save(raft::Index index, raft::Term term, std::string_view data, bool fsync = true,
              bool* out_of_space = nullptr) {
    return save(index, term, raft::Membership{}, data, fsync, out_of_space);
  }

  // Reads the newest snapshot into *out (nullopt if there is none). A damaged newest
  // snapshot is an error: the WAL it replaced may already be gone.
  Status load_latest(std::optional<Snapshot>* out) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  IoFaults* faults_ = nullptr;
};

}  // namespace nomad::storage
