#pragma once

// The clients' side of the run: unique payloads, the proposals waiting for an answer, and the
// ones acknowledged. A proposal is acknowledged when the node it was proposed to applies its
// entry at the index and term propose() returned, the point where a server would answer
// "committed"; every acknowledged write must then reach every node.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "raft/core.h"
#include "raft/types.h"
#include "sim_time.h"

namespace nomad::sim {

struct AckedProposal {
  raft::Index index = 0;
  raft::Term term = 0;
  std::string data;
  raft::NodeId node = raft::kNoNode;  // the leader it was proposed to
  Time proposed_at = 0;
  Time acked_at = 0;
};

struct ClientStats {
  uint64_t proposed = 0;  // accepted by a leader
  uint64_t refused = 0;   // no leader, or propose() refused
  uint64_t waited = 0;    // the leader already had as many unanswered proposals as allowed
  uint64_t acked = 0;
  uint64_t failed = 0;   // the leader applied another entry at that index
  uint64_t unknown = 0;  // the leader crashed before answering
};

class ClientTracker {
 public:
  explicit ClientTracker(uint64_t seed) : seed_(seed) {}

  // "s17-p42": unique within the run and recognisable in traces.
  std::string next_payload();

  void refused() { ++stats_.refused; }
  void waited() { ++stats_.waited; }
  void proposed(raft::NodeId node, const raft::ProposeResult& result,
                const std::vector<std::string>& payloads, Time now);
  // The node applied `entry`: answers the proposal made to it at that index, if any.
  void applied(raft::NodeId node, const raft::Entry& entry, Time now);
  // Proposals whose entry is no longer in the node's log (cut by a later leader) will never
  // be acknowledged: answer them as failed, as a server does when it loses leadership.
  void forget_overwritten(raft::NodeId node, const raft::RaftLog& log);
  // Proposals at or below an installed snapshot's index are never applied one by one: their
  // outcome is unknown to the client.
  void snapshot_installed(raft::NodeId node, raft::Index index);
  // Proposals waiting on a crashed node never get an answer.
  void crashed(raft::NodeId node);

  // Proposals made to `node` that it has not answered yet.
  size_t pending_on(raft::NodeId node) const {
    auto it = pending_.find(node);
    return it == pending_.end() ? 0 : it->second.size();
  }

  const std::vector<AckedProposal>& acked() const { return acked_; }
  raft::Index max_acked_index() const { return max_acked_index_; }
  // When the most recently proposed of the acknowledged proposals was made (0 if none).
  Time latest_acked_proposal() const { return latest_acked_proposal_; }
  const ClientStats& stats() const { return stats_; }

 private:
  struct Pending {
    raft::Term term = 0;
    std::string data;
    Time proposed_at = 0;
  };

  uint64_t seed_;
  uint64_t next_payload_ = 1;
  std::map<raft::NodeId, std::map<raft::Index, Pending>> pending_;
  std::vector<AckedProposal> acked_;
  raft::Index max_acked_index_ = 0;
  Time latest_acked_proposal_ = 0;
  ClientStats stats_;
};

}  // namespace nomad::sim
