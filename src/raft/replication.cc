// The leader's side of log replication (§5.3): heartbeats, flow control per follower,
// fast backtracking on rejection, the commit rule (§5.4.2) and check-quorum (§6.2 thesis).

#include <algorithm>

#include "raft/core.h"

namespace nomad::raft {

void Core::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;

  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum && !check_quorum_active()) {
      // A leader cut off from its majority must stop taking writes: another leader may
      // already be committing in a later term.
      become_follower(term_, kNoNode);
      return;
    }
  }
  maybe_advance_membership();
  if (role_ != Role::kLeader) return;
  if (transfer_target_ != kNoNode && ++transfer_elapsed_ >= config_.election_ticks) {
    transfer_target_ = kNoNode;  // the target never took over; resume accepting proposals
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

bool Core::check_quorum_active() {
  size_t active = is_voter(config_.id) ? 1 : 0;  // a leader removing itself does not count
  for (auto& [id, p] : progress_) {
    if (p.recent_active && is_voter(id)) ++active;
    p.recent_active = false;
  }
  return active >= quorum();
}

void Core::send_append(NodeId to, bool even_if_empty, bool commit_only) {
  Progress& p = progress_.at(to);
  if (p.state == ReplicationState::kProbe && p.probe_sent) return;
  if (p.state == ReplicationState::kReplicate &&
      p.inflight.size() >= config_.max_inflight_appends) {
    return;
  }
  if (p.state == ReplicationState::kSnapshot) return;  // one chunk at a time, paced by answers
  Index prev = p.next - 1;
  auto prev_term = log_.term_at(prev);
  if (!prev_term) {
    // The entries this follower needs were compacted away: it gets the snapshot instead.
    p.state = ReplicationState::kSnapshot;
    p.snapshot_index = snapshot_.index;
    p.snapshot_offset = 0;
    p.inflight.clear();
    send_snapshot_chunk(to);
    return;
  }
  std::vector<Entry> entries =
      log_.slice(p.next, log_.last_index(), config_.max_entries_per_append);
  size_t bytes = 0, keep = 0;
  while (keep < entries.size() &&
         (keep == 0 || bytes + entries[keep].data.size() <= config_.max_bytes_per_append)) {
    bytes += entries[keep++].data.size();
  }
  entries.resize(keep);
  if (entries.empty() && !even_if_empty) return;
  Index last_sent = entries.empty() ? prev : entries.back().index;
  if (p.state == ReplicationState::kReplicate) {
    // Optimistic pipelining: assume delivery and keep streaming without waiting a round trip.
    if (!entries.empty()) {
      p.next = last_sent + 1;
      p.inflight.push_back(last_sent);
    }
  } else {
    p.probe_sent = true;
  }
  p.commit_sent = log_.committed();
  send(
      {.type = MessageType::kAppend,
       .to = to,
       .index = prev,
       .log_term = *prev_term,
       .entries = std::move(entries),
       .commit = log_.committed(),
       // A probe (kProbe) waits for its answer; in kReplicate, entries get theirs.
       .commit_only = commit_only && last_sent == prev && p.state == ReplicationState::kReplicate});
}

void Core::broadcast_append() {
  for (auto& [id, p] : progress_) send_append(id, /*even_if_empty=*/true);
}

void Core::broadcast_commit() {
  for (auto& [id, p] : progress_) {
    // A follower with appends in flight and nothing more to send learns the commit from its
    // next append, or once its last acknowledgement is in (handle_append_response): while
    // replication is pipelined, commits ride on appends instead of costing messages of their
    // own.
    if (p.state == ReplicationState::kReplicate && !p.inflight.empty() &&
        p.next > log_.last_index()) {
      continue;
    }
    send_append(id, /*even_if_empty=*/true, /*commit_only=*/true);
  }
}

void Core::broadcast_heartbeat() {
  for (auto& [id, p] : progress_) {
    // Never tell a follower to commit beyond what it is known to hold.
    send(
        {.type = MessageType::kHeartbeat, .to = id, .commit = std::min(p.match, log_.committed())});
  }
}

void Core::handle_append_response(const Message& m) {
  if (role_ != Role::kLeader) return;
  auto found = progress_.find(m.from);
  if (found == progress_.end()) return;  // not (or no longer) a member
  Progress& p = found->second;
  p.recent_active = true;
  if (p.state == ReplicationState::kSnapshot) {
    // Only an answer showing the follower already holds the snapshot's entries ends it.
    if (m.reject || m.index < p.snapshot_index || m.index > log_.last_index()) return;
    p.state = ReplicationState::kProbe;
  }
  // No correct follower speaks of an index past our log (every ack and every probed index
  // comes from an append we sent this term); believing one would point next past our log.
  if (m.index > log_.last_index()) return;

  if (m.reject) {
    // Stale answers (to an append older than what the follower has since acknowledged, or to
    // a probe we are no longer waiting for) carry no news.
    if (m.index <= p.match) return;
    if (p.state == ReplicationState::kProbe && m.index != p.next - 1) return;
    // Fast backtracking: skip a whole conflicting term per round trip instead of one entry.
    Index next = m.conflict_index;
    if (m.conflict_term != 0) {
      if (auto last = log_.last_index_of_term(m.conflict_term)) next = *last + 1;
    }
    next = std::clamp<Index>(next, p.match + 1, std::max<Index>(m.index, p.match + 1));
    p.next = next;
    p.state = ReplicationState::kProbe;
    p.probe_sent = false;
    p.inflight.clear();
    send_append(m.from, /*even_if_empty=*/true);
    return;
  }

  bool progressed = m.index > p.match;
  if (progressed) {
    p.match = m.index;
    p.next = std::max(p.next, m.index + 1);
  }
  p.free_inflight_to(m.index);
  if (p.state == ReplicationState::kProbe) {
    p.state = ReplicationState::kReplicate;
    p.probe_sent = false;
    p.next = p.match + 1;
    p.inflight.clear();
  }
  if (progressed && maybe_commit()) {
    broadcast_commit();  // carries the new commit index to every follower
  } else {
    send_append(m.from, /*even_if_empty=*/false);
  }
  if (p.state == ReplicationState::kReplicate && p.inflight.empty() &&
      p.commit_sent < log_.committed()) {
    send_append(m.from, /*even_if_empty=*/true, /*commit_only=*/true);  // left by broadcast_commit
  }
  if (transfer_target_ == m.from && p.match == log_.last_index()) {
    send({.type = MessageType::kTimeoutNow, .to = m.from});
  }
  maybe_advance_membership();
}

void Core::handle_heartbeat_response(const Message& m) {
  if (role_ != Role::kLeader) return;
  auto found = progress_.find(m.from);
  if (found == progress_.end()) return;
  Progress& p = found->second;
  p.recent_active = true;
  if (p.state == ReplicationState::kSnapshot) {
    send_snapshot_chunk(m.from);  // the last chunk or its answer may have been lost
    return;
  }
  if (p.state == ReplicationState::kProbe) {
    p.probe_sent = false;  // the last probe may have been lost: try again
  } else if (p.inflight.size() >= config_.max_inflight_appends) {
    p.inflight.pop_front();  // let one more through so a lost append cannot stall us forever
  }
  if (p.match < log_.last_index()) {
    // An empty append in kReplicate acts as a probe: a follower missing entries rejects it
    // and we fall back to kProbe with its conflict hint.
    send_append(m.from, /*even_if_empty=*/true);
  }
}

void Core::send_snapshot_chunk(NodeId to) {
  Progress& p = progress_.at(to);
  if (p.snapshot_index != snapshot_.index) {
    // We compacted again since this transfer began: send the newer snapshot from the start.
    p.snapshot_index = snapshot_.index;
    p.snapshot_offset = 0;
  }
  // Without the bytes (an application that restored a snapshot but did not hand them over)
  // there is nothing correct to send; an empty one would wipe the follower's state.
  if (!snapshot_.data) return;
  const std::string& data = *snapshot_.data;
  uint64_t offset = std::min<uint64_t>(p.snapshot_offset, data.size());
  size_t length = std::min<size_t>(config_.snapshot_chunk_bytes, data.size() - offset);
  send({.type = MessageType::kSnapshot,
        .to = to,
        .index = snapshot_.index,
        .log_term = snapshot_.term,
        .offset = offset,
        .chunk = data.substr(offset, length),
        .done = offset + length == data.size(),
        .membership = snapshot_.membership});
}

void Core::handle_snapshot_response(const Message& m) {
  if (role_ != Role::kLeader) return;
  auto found = progress_.find(m.from);
  if (found == progress_.end()) return;
  Progress& p = found->second;
  p.recent_active = true;
  if (p.state != ReplicationState::kSnapshot || m.index != p.snapshot_index) return;
  if (m.done) {
    // The follower's log now starts after the snapshot: continue with entries.
    p.match = std::max(p.match, m.index);
    p.next = p.match + 1;
    p.state = ReplicationState::kProbe;
    p.probe_sent = false;
    if (maybe_commit()) broadcast_commit();
    send_append(m.from, /*even_if_empty=*/true);
    return;
  }
  if (!snapshot_.data || m.offset > snapshot_.data->size())
    return;  // no correct follower holds more than we sent
  // The chunk at snapshot_offset is already on its way (if it was lost, the next heartbeat
  // answer re-sends it). Send only when the follower is somewhere else: it acknowledged more,
  // or it refused a chunk while holding a different amount (it restarted, or an answer was
  // lost). A refusal at the offset we are sending from answers a duplicate; sending again for
  // it would keep one more copy in flight for the rest of the transfer, one per heartbeat.
  bool moved = m.reject ? m.offset != p.snapshot_offset : m.offset > p.snapshot_offset;
  if (!moved) return;
  p.snapshot_offset = m.offset;
  send_snapshot_chunk(m.from);
}

bool Core::maybe_commit() {
  std::vector<Index> matches;
  matches.reserve(progress_.size() + 1);
  // Our own entries count once durable (the planted bug counts what is merely in memory), and
  // only while this node is a voter: a leader removing itself replicates without counting
  // itself (thesis §4.2.2).
  if (is_voter(config_.id)) {
    matches.push_back(config_.bugs.count_own_unsynced_entries ? log_.last_index() : log_.stable());
  }
  // Learners never count (the planted bug counts them).
  for (auto& [id, p] : progress_) {
    if (is_voter(id) || config_.bugs.count_learners_in_quorum) matches.push_back(p.match);
  }
  if (matches.size() < quorum()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  Index candidate = matches[quorum() - 1];
  if (candidate <= log_.committed()) return false;
  // Only an entry of the current term is committed by counting replicas; earlier entries
  // commit with it (§5.4.2, Figure 8): counting an old-term entry could commit something a
  // later leader overwrites.
  if (log_.term_at(candidate) != term_ && !config_.bugs.commit_previous_term_by_count) {
    return false;
  }
  log_.commit_to(candidate);
  return true;
}

bool Core::transfer_leadership(NodeId target) {
  if (role_ != Role::kLeader || target == config_.id || !is_voter(target)) return false;
  transfer_target_ = target;
  transfer_elapsed_ = 0;
  const Progress& p = progress_.at(target);
  if (p.match == log_.last_index()) {
    send({.type = MessageType::kTimeoutNow, .to = target});
  } else {
    send_append(target, /*even_if_empty=*/false);
  }
  return true;
}

}  // namespace nomad::raft
