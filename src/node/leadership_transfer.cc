// Leadership transfer on request (`cluster transfer-leader`, and a leader stopped by SIGTERM):
// the core brings the target's log up to date and sends it TimeoutNow (raft thesis §3.10);
// the caller hears back once another node leads, which takes about one round trip and an
// election, not an election timeout.

#include <algorithm>
#include <string>

#include "node/node.h"

namespace nomad::node {

namespace {

std::string id_list(const std::vector<raft::NodeId>& ids) {
  std::string out;
  for (raft::NodeId id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
  return out;
}

}  // namespace

void Node::transfer_leadership(raft::NodeId target, std::chrono::steady_clock::time_point deadline,
                               TransferCallback done) {
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      new_transfers_.push_back({target, deadline, std::move(done), 0});
      if (new_transfers_.size() == 1) queue_cv_.notify_one();
      return;
    }
  }
  done({.code = TransferOutcome::Code::kShutdown, .detail = "the node is shutting down"});
}

void Node::start_transfers(std::vector<Transfer>& transfers) {
  using Code = TransferOutcome::Code;
  const raft::NodeId self = config_.node_id;
  auto now = clock_.now();
  // A peer that answered nothing for this long cannot take over.
  const auto reachable_window =
      std::max<std::chrono::milliseconds>(std::chrono::seconds(1), 4 * config_.election_timeout);
  auto reachable = [&](raft::NodeId id) {
    std::lock_guard lock(view_mu_);
    auto it = last_heard_.find(id);
    return it != last_heard_.end() && now - it->second <= reachable_window;
  };
  for (Transfer& t : transfers) {
    if (core_->role() != raft::Role::kLeader) {
      raft::NodeId leader = core_->leader_id();
      t.done({.code = Code::kNotLeader,
              .leader = leader,
              .term = core_->term(),
              .detail = leader == raft::kNoNode
                            ? "no leader is elected yet; retry shortly"
                            : "this node is not the leader; the leader is node " +
                                  std::to_string(leader) + " at " + address_of(leader)});
      continue;
    }
    // The current configuration's voters: the bootstrap ones (Config::voters) may since have
    // been removed, and nodes that joined are voters only there.
    std::vector<raft::NodeId> voters;
    for (const auto& m : core_->membership().members) {
      if (m.voter) voters.push_back(m.id);
    }
    auto is_voter = [&](raft::NodeId id) {
      return std::find(voters.begin(), voters.end(), id) != voters.end();
    };
    if (t.target == self) {
      t.done(
          {.code = Code::kDone, .leader = self, .term = core_->term(), .detail = "already leads"});
      continue;
    }
    if (t.target == raft::kNoNode) {
      // The follower holding the most of the log catches up fastest.
      raft::Index best = 0;
      for (const auto& [id, p] : core_->progress()) {
        if (!is_voter(id) || !reachable(id)) continue;  // a learner cannot be elected
        if (t.target == raft::kNoNode || p.match > best) {
          t.target = id;
          best = p.match;
        }
      }
      if (t.target == raft::kNoNode) {
        t.done({.code = voters.size() == 1 ? Code::kInvalidTarget : Code::kUnreachable,
                .leader = self,
                .term = core_->term(),
                .detail = voters.size() == 1
                              ? "this cluster has a single voter: nobody can take over"
                              : "no follower is reachable to hand leadership to"});
        continue;
      }
    }
    if (!is_voter(t.target)) {
      t.done({.code = Code::kInvalidTarget,
              .leader = self,
              .term = core_->term(),
              .detail = "node " + std::to_string(t.target) + " is not a voter; the voters are " +
                        id_list(voters)});
      continue;
    }
    if (!reachable(t.target)) {
      t.done({.code = Code::kUnreachable,
              .leader = self,
              .term = core_->term(),
              .detail = "node " + std::to_string(t.target) + " has not been heard from for over " +
                        std::to_string(reachable_window.count()) +
                        " ms; it cannot take over (pick another, or none for the most "
                        "up-to-date follower)"});
      continue;
    }
    if (!core_->transfer_leadership(t.target)) {
      t.done({.code = Code::kInvalidTarget,
              .leader = self,
              .term = core_->term(),
              .detail = "the transfer to node " + std::to_string(t.target) + " was refused"});
      continue;
    }
    t.started_term = core_->term();
    transfers_.push_back(std::move(t));
  }
  transfers.clear();
}

void Node::check_transfers(std::chrono::steady_clock::time_point now) {
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    raft::NodeId leader = core_->leader_id();
    if (leader != raft::kNoNode && leader != config_.node_id && core_->term() > it->started_term) {
      it->done({.code = TransferOutcome::Code::kDone, .leader = leader, .term = core_->term()});
      it = transfers_.erase(it);
      continue;
    }
    if (it->deadline <= now) {
      std::string detail =
          core_->role() == raft::Role::kLeader
              ? "node " + std::to_string(it->target) +
                    " did not take over in time; this node still leads (is the target's log "
                    "far behind, or the network slow?)"
              : "this node stepped down but no new leader is known yet; check `cluster status`";
      it->done({.code = TransferOutcome::Code::kTimeout,
                .leader = leader,
                .term = core_->term(),
                .detail = detail});
      it = transfers_.erase(it);
      continue;
    }
    ++it;
  }
}

void Node::fail_transfers(TransferOutcome::Code code, const std::string& why) {
  for (Transfer& t : transfers_) t.done({.code = code, .detail = why});
  transfers_.clear();
}

}  // namespace nomad::node
