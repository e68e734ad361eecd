#pragma once

// Clients' linearizable reads (Core::read_index, thesis §6.4). A read starts on some node; when
// the node's core answers with a read index, the read is served once the node's state machine
// applied that far, and it sees the state machine at its applied index then. Linearizable means
// it sees every write acknowledged before the read started: the applied index when served must
// reach the highest index acknowledged by then.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "raft/core.h"
#include "raft/types.h"
#include "sim_time.h"

namespace nomad::sim {

struct ReadStats {
  uint64_t started = 0;
  uint64_t served = 0;
  uint64_t failed = 0;  // the core could not confirm it (no leader, leadership changed)
  uint64_t lost = 0;    // the node crashed before serving it
};

class ReadTracker {
 public:
  // A read of `node`, which must see every write acknowledged up to index `required`.
  uint64_t start(raft::NodeId node, raft::Index required, Time now);
  // `node`'s core answered a read.
  void answered(raft::NodeId node, const raft::ReadState& state);
  // Serves the answered reads of `node` whose index it has applied; the description of the
  // first stale one, if any.
  std::optional<std::string> serve(raft::NodeId node, raft::Index applied, Time now);
  void crashed(raft::NodeId node);
  const ReadStats& stats() const { return stats_; }

 private:
  struct Read {
    raft::NodeId node = raft::kNoNode;
    raft::Index required = 0;
    Time started_at = 0;
    std::optional<raft::Index> index;  // once answered
  };
  uint64_t next_id_ = 1;
  std::map<uint64_t, Read> reads_;
  ReadStats stats_;
};

}  // namespace nomad::sim
