#pragma once

// The append-only, segmented write-ahead log that makes the Raft log and hard state durable.
//
// A node writes every Ready's entries and hard state with write() and makes them durable with
// one sync() (group commit: one fdatasync for however many entries the Ready carried).
// Segment files are named <sequence>.wal (16 hex digits) and roll over at
// WalOptions::segment_bytes; each begins with a header naming the node and the current hard
// state, so older segments can be deleted once a snapshot covers them.
//
// A new segment is reserved at segment_bytes (fallocate), because fdatasync after writing into
// allocated space costs less than after appending. So a segment's records may be followed by
// zeros up to the end of the file. A segment rolls over only once that space is used up, and
// recovery cuts the zeros off the segments it reads, so only the open one keeps a reserve.
//
// An entry whose index is at or below the last one written replaces that suffix on replay:
// that is how a follower's truncation of a conflicting suffix is recorded without rewriting.
//
// A full disk: a write that fails for want of space (ENOSPC, EDQUOT) is undone, the segment
// cut back to its last whole record, so the WAL holds exactly what it held before, and the
// same write may be retried once space is freed (out_of_space() tells this case apart).
// A failed fsync is never retried: the kernel may have dropped the pages it could not write
// and a second fsync would report success for data that is gone (PostgreSQL's "fsyncgate").
// After one, every write() and sync() fails; the process must stop and recover from the disk.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "raft/types.h"
#include "storage/file_util.h"

namespace nomad::storage {

struct WalOptions {
  raft::NodeId node_id = raft::kNoNode;
  // Names the cluster; a directory written for another cluster is refused.
  std::string cluster{};
  // The cluster identity is fixed when the data directory is first written: with this set, a
  // directory that already holds segments keeps the cluster its headers name and `cluster` only
  // names a new directory's (Wal::cluster() tells which). For a node whose membership has
  // changed since its flags were written, or one that joined a running cluster.
  bool adopt_stored_cluster = false;
  uint64_t segment_bytes = 64ull << 20;
  bool fsync = true;           // off only in tests that measure nothing durable
  IoFaults* faults = nullptr;  // tests only: injected full disk or fsync errors
};

// What a restarting node reads back.
struct WalContents {
  raft::HardState hard_state;
  std::vector<raft::Entry> entries;   // contiguous, starting right after the snapshot index
  std::vector<std::string> warnings;  // e.g. a torn tail that was cut off
};

class Wal {
 public:
  // Opens the WAL in `dir` (created if missing) and reads it back into *contents. Entries at
  // or below `snapshot_index` are already covered by a snapshot and are skipped. On damage
  // that a crash cannot explain, returns nullptr and a Status that names the file, the offset
  // and what to do.
  static std::unique_ptr<Wal> open(const std::string& dir, const WalOptions& options,
                                   raft::Index snapshot_index, WalContents* contents,
                                   Status* status);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Buffers and writes the entries, then the hard state (in that order, so a hard state is
  // never durable without the entries its commit index refers to). Not durable until sync().
  // On failure nothing of it is in the WAL (see out_of_space()).
  Status write(const std::optional<raft::HardState>& hard_state,
               const std::vector<raft::Entry>& entries);
  // Records that the node installed a snapshot received from the leader: on replay every
  // entry written before is void and the log continues after `index`. Write it only after
  // the snapshot itself is durable.
  Status write_snapshot_installed(raft::Index index, raft::Term term);
  // Makes everything written so far durable. A failure is final (see the top of this file).
  Status sync();
  // Deletes the oldest segments whose entries all lie at or below `index`.
  Status release_to(raft::Index index);

  // Whether the last failed write failed for want of space: it left nothing behind and may be
  // retried. False after any other failure (an I/O error), which a node treats as fatal.
  bool out_of_space() const { return out_of_space_; }
  // Whether an fsync failed: the WAL refuses all further work.
  bool sync_failed() const { return !sync_error_.is_ok(); }

  size_t segment_count() const { return segments_.size(); }
  // The cluster this WAL belongs to (the stored one with WalOptions::adopt_stored_cluster).
  const std::string& cluster() const { return options_.cluster; }
  const std::string& dir() const { return dir_; }

 private:
  struct Segment {
    uint64_t sequence = 0;
    std::string path;
    raft::Index max_index = 0;  // highest entry index written into it
  };

  Wal(std::string dir, WalOptions options);
  Status recover(raft::Index snapshot_index, WalContents* contents);
  Status start_segment();
  Status write_buffer();
  // Records why a write failed; `error_number` is its errno (0 when not a system call's).
  Status failed_write(Status status, int error_number);

  std::string dir_;
  WalOptions options_;
  std::vector<Segment> segments_;  // oldest first; the last one is open for appending
  int fd_ = -1;
  uint64_t current_bytes_ = 0;  // written into the open segment: where the next write goes
  bool dir_sync_pending_ = false;
  raft::HardState hard_state_;
  raft::Index last_index_ = 0;
  std::string buffer_;
  bool out_of_space_ = false;
  Status sync_error_;  // the first fsync failure; not ok once one happened
};

}  // namespace nomad::storage
