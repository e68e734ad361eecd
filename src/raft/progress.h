#pragma once

// The leader's view of one follower's replication (etcd calls it Progress). Soft state: a new
// leader rebuilds it from scratch.

#include <cstdint>
#include <deque>

#include "raft/types.h"

namespace nomad::raft {

enum class ReplicationState : uint8_t {
  // We do not know where the follower's log diverges: send one AppendEntries at a time and
  // wait for its answer (or a heartbeat answer) before sending again.
  kProbe,
  // The follower's log matches ours up to `match`: stream entries without waiting, bounded by
  // the in-flight window.
  kReplicate,
  // The entries the follower needs were compacted away: send the snapshot, one chunk at a
  // time, then resume with kProbe after it.
  kSnapshot,
};

const char* replication_state_name(ReplicationState state);

struct Progress {
  Index match = 0;  // highest index known to be replicated on the follower
  Index next = 1;   // next index to send
  ReplicationState state = ReplicationState::kProbe;
  bool probe_sent = false;       // kProbe: an append is outstanding, wait before sending another
  bool recent_active = false;    // heard from within the current check-quorum window
  std::deque<Index> inflight;    // kReplicate: last index of each unacknowledged append
  Index snapshot_index = 0;      // kSnapshot: the snapshot being sent
  uint64_t snapshot_offset = 0;  // kSnapshot: bytes the follower has acknowledged
  Index commit_sent = 0;         // the commit index the last append to it carried

  // Acknowledges every in-flight append up to and including `index`.
  void free_inflight_to(Index index) {
    while (!inflight.empty() && inflight.front() <= index) inflight.pop_front();
  }
};

}  // namespace nomad::raft
