#include "clients.h"

#include <algorithm>
#include <iterator>

namespace nomad::sim {

std::string ClientTracker::next_payload() {
  return "s" + std::to_string(seed_) + "-p" + std::to_string(next_payload_++);
}

void ClientTracker::proposed(raft::NodeId node, const raft::ProposeResult& result,
                             const std::vector<std::string>& payloads, Time now) {
  auto& pending = pending_[node];
  for (size_t k = 0; k < payloads.size(); ++k) {
    raft::Index index = result.first_index + k;
    // A leader that lost its log tail and leads again can hand out an index twice; the older
    // proposal's entry is gone from its log, so it can no longer be acknowledged.
    auto [it, inserted] = pending.try_emplace(index, Pending{result.term, payloads[k], now});
    if (!inserted) {
      ++stats_.failed;
      it->second = Pending{result.term, payloads[k], now};
    }
    ++stats_.proposed;
  }
}

void ClientTracker::applied(raft::NodeId node, const raft::Entry& entry, Time now) {
  auto by_node = pending_.find(node);
  if (by_node == pending_.end()) return;
  auto it = by_node->second.find(entry.index);
  if (it == by_node->second.end()) return;
  const Pending& p = it->second;
  if (entry.term == p.term && entry.type == raft::EntryType::kNormal && entry.data == p.data) {
    acked_.push_back({entry.index, entry.term, p.data, node, p.proposed_at, now});
    max_acked_index_ = std::max(max_acked_index_, entry.index);
    latest_acked_proposal_ = std::max(latest_acked_proposal_, p.proposed_at);
    ++stats_.acked;
  } else {
    ++stats_.failed;
  }
  by_node->second.erase(it);
}

void ClientTracker::forget_overwritten(raft::NodeId node, const raft::RaftLog& log) {
  auto by_node = pending_.find(node);
  if (by_node == pending_.end()) return;
  auto& pending = by_node->second;
  for (auto it = pending.begin(); it != pending.end();) {
    if (log.matches(it->first, it->second.term)) {
      ++it;
    } else {
      ++stats_.failed;
      it = pending.erase(it);
    }
  }
}

void ClientTracker::snapshot_installed(raft::NodeId node, raft::Index index) {
  auto by_node = pending_.find(node);
  if (by_node == pending_.end()) return;
  auto& pending = by_node->second;
  auto end = pending.upper_bound(index);
  stats_.unknown += static_cast<uint64_t>(std::distance(pending.begin(), end));
  pending.erase(pending.begin(), end);
}

void ClientTracker::crashed(raft::NodeId node) {
  auto it = pending_.find(node);
  if (it == pending_.end()) return;
  stats_.unknown += it->second.size();
  pending_.erase(it);
}

}  // namespace nomad::sim
