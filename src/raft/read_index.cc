// Linearizable reads through ReadIndex (§6.4 of the thesis). A read must see every write
// acknowledged before it began. The leader's commit index covers those writes, but only if it
// is still the leader: a deposed leader that has not heard of its successor would answer with
// a stale index. So the leader records its commit index, then exchanges a round of heartbeats
// with a majority; once they answer, no other leader can have committed anything newer as of
// the read's start, and the read is served once the state machine has applied that index.
// A new leader first commits an entry of its own term (its no-op): before that, its commit
// index may lag what earlier leaders committed (§5.4.2). A follower asks the leader for the
// index and serves the read from its own state machine once it applied that far.
//
// One heartbeat round is in flight at a time: reads arriving meanwhile share the next round,
// so a burst of reads costs two rounds, not one each.

#include <algorithm>

#include "raft/core.h"

namespace nomad::raft {

bool Core::committed_in_term() const { return log_.term_at(log_.committed()) == term_; }

void Core::read_index(uint64_t request_id) {
  require(!ready_outstanding_, "read_index() between ready() and advance()");
  if (role_ == Role::kLeader) {
    PendingRead read{.request_id = request_id, .from = kNoNode};
    deferred_reads_.push_back(read);
    advance_reads();
    return;
  }
  if (leader_ == kNoNode || storage_failed_) {
    read_states_.push_back({request_id, 0, false});
    return;
  }
  forwarded_reads_.push_back(request_id);
  send({.type = MessageType::kReadIndex, .to = leader_, .read_context = request_id});
}

void Core::handle_read_index(const Message& m) {
  if (role_ != Role::kLeader) {
    send({.type = MessageType::kReadIndexResponse,
          .to = m.from,
          .reject = true,
          .read_context = m.read_context});
    return;
  }
  deferred_reads_.push_back({.request_id = m.read_context, .from = m.from});
  advance_reads();
}

void Core::handle_read_index_response(const Message& m) {
  auto it = std::find(forwarded_reads_.begin(), forwarded_reads_.end(), m.read_context);
  if (it == forwarded_reads_.end()) return;  // already failed (leader changed), or a duplicate
  forwarded_reads_.erase(it);
  read_states_.push_back({m.read_context, m.reject ? 0 : m.index, !m.reject});
}

void Core::answer_read(const PendingRead& read, Index index) {
  if (read.from == kNoNode) {
    read_states_.push_back({read.request_id, index, true});
  } else {
    send({.type = MessageType::kReadIndexResponse,
          .to = read.from,
          .index = index,
          .read_context = read.request_id});
  }
}

void Core::advance_reads() {
  if (role_ != Role::kLeader || !committed_in_term()) return;
  if (!deferred_reads_.empty()) {
    for (PendingRead& read : deferred_reads_) {
      read.index = log_.committed();
      if (config_.bugs.read_index_without_heartbeat) {
        answer_read(read, read.index);  // planted bug: trusts it still leads
        continue;
      }
      read.round = read_round_ + 1;  // needs a round started after it
      pending_reads_.push_back(read);
    }
    deferred_reads_.clear();
  }
  if (pending_reads_.empty() || confirmed_round_ < read_round_) return;  // a round is in flight
  ++read_round_;
  if (quorum() == 1) {
    note_read_ack(config_.id, read_round_);
  } else {
    broadcast_heartbeat();  // carries read_round_; the answers echo it
  }
}

void Core::note_read_ack(NodeId from, uint64_t round) {
  if (role_ != Role::kLeader || round == 0) return;
  if (from != config_.id) {
    uint64_t& acked = read_acks_[from];
    acked = std::max(acked, round);
  }
  // The highest round a majority of the current voters answered: this node is in every round
  // it started, but counts only while it is a voter (a leader removing itself does not), and
  // learners' and removed servers' answers never count.
  std::vector<uint64_t> rounds;
  if (is_voter(config_.id)) rounds.push_back(read_round_);
  for (const auto& [id, acked] : read_acks_) {
    if (is_voter(id)) rounds.push_back(acked);
  }
  if (rounds.size() < quorum()) return;
  std::sort(rounds.begin(), rounds.end(), std::greater<>());
  uint64_t confirmed = rounds[quorum() - 1];
  if (confirmed <= confirmed_round_) return;
  confirmed_round_ = confirmed;
  auto unconfirmed =
      std::stable_partition(pending_reads_.begin(), pending_reads_.end(),
                            [&](const PendingRead& read) { return read.round > confirmed_round_; });
  for (auto it = unconfirmed; it != pending_reads_.end(); ++it) answer_read(*it, it->index);
  pending_reads_.erase(unconfirmed, pending_reads_.end());
  advance_reads();  // reads that arrived during this round start the next one
}

void Core::abandon_reads() {
  for (const auto* reads : {&deferred_reads_, &pending_reads_}) {
    for (const PendingRead& read : *reads) {
      if (read.from == kNoNode) {
        read_states_.push_back({read.request_id, 0, false});
      } else {
        send({.type = MessageType::kReadIndexResponse,
              .to = read.from,
              .reject = true,
              .read_context = read.request_id});
      }
    }
  }
  for (uint64_t id : forwarded_reads_) read_states_.push_back({id, 0, false});
  deferred_reads_.clear();
  pending_reads_.clear();
  forwarded_reads_.clear();
  read_acks_.clear();
  read_round_ = 0;
  confirmed_round_ = 0;
}

}  // namespace nomad::raft
