#pragma once

// Replaying one WAL segment file's bytes into the recovered log. Kept free of file I/O so the
// fuzz target can feed it arbitrary bytes.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "raft/types.h"

namespace nomad::storage {

inline constexpr uint32_t kFormatVersion = 1;

// Said after every error that means committed data may be damaged.
extern const char* const kDamageAdvice;

// The log as rebuilt so far, carried from one segment to the next.
struct SegmentReplay {
  raft::NodeId node_id = raft::kNoNode;  // the node that must have written the segments
  std::string cluster;                   // ... as a member of this cluster
  // Take the cluster named by the first segment's header instead (WalOptions::
  // adopt_stored_cluster); every later segment must name the same one.
  bool adopt_cluster = false;
  raft::Index base = 0;  // snapshot index: entries hold base+1, base+2, ...
  std::vector<raft::Entry> entries;
  raft::HardState hard_state;
  std::vector<std::string> warnings;
  raft::Index max_index = 0;  // highest entry index in the segment just replayed
};

struct SegmentOutcome {
  Status status;  // an error: damage a crash cannot explain
  // Bytes of whole records; the file is cut here if longer (reserved space filled with zeros,
  // or a crash's unfinished write).
  size_t valid_bytes = 0;
  bool empty = false;  // no header at all: a file created just before a crash
};

// Replays `data`, the bytes of segment `sequence` stored at `path` (used in messages).
// Only the last segment may end in a torn write or be empty; any segment may end in zeros.
SegmentOutcome replay_segment(std::string_view data, const std::string& path, uint64_t sequence,
                              bool last_segment, SegmentReplay* replay);

}  // namespace nomad::storage
