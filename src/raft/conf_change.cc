// Membership changes in the core (thesis chapter 4): one server at a time, effective when
// appended, learners that catch up before they vote, and a leader that removes itself.

#include <algorithm>

#include "raft/core.h"

namespace nomad::raft {

Membership Core::membership_at(Index index) const {
  Index top = std::min(index, log_.last_index());
  for (Index i = top; i >= log_.first_index() && i > 0; --i) {
    const Entry& e = log_.at(i);
    if (e.type != EntryType::kConfChange) continue;
    Membership m;
    // validate_append() and propose_conf_change() admit only entries that decode.
    if (decode_conf_entry(e.data, nullptr, &m)) {
      m.index = i;
      return m;
    }
  }
  return snapshot_.membership.empty() ? bootstrap_ : snapshot_.membership;
}

void Core::refresh_membership() {
  Membership effective = membership_at(log_.last_index());
  if (effective == membership_) return;
  membership_ = std::move(effective);
  membership_changed_ = true;
  if (role_ == Role::kLeader) sync_progress();
  // A node that is no voter any more cannot be a candidate (its votes would not count).
  if ((role_ == Role::kCandidate || role_ == Role::kPreCandidate) &&
      !membership_.is_voter(config_.id)) {
    become_follower(term_, kNoNode);
  }
}

void Core::sync_progress() {
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (membership_.is_member(it->first)) {
      ++it;
    } else {
      if (transfer_target_ == it->first) transfer_target_ = kNoNode;
      it = progress_.erase(it);
    }
  }
  for (const Member& m : membership_.members) {
    if (m.id == config_.id || progress_.count(m.id)) continue;
    Progress p;
    p.next = log_.last_index() + 1;
    p.recent_active = true;  // a full check-quorum window before it is judged
    progress_[m.id] = p;
    send_append(m.id, /*even_if_empty=*/true);
  }
}

bool Core::conf_change_pending() const { return membership_.index > log_.committed(); }

ProposeResult Core::propose_conf_change(const ConfChange& change, std::string* why) {
  require(!ready_outstanding_, "propose_conf_change() between ready() and advance()");
  ProposeResult result;
  result.term = term_;
  auto refuse = [&](std::string reason) {
    if (why) *why = std::move(reason);
    result.leader_hint = leader_;
    return result;
  };
  if (role_ != Role::kLeader) return refuse("this node is not the leader");
  if (transfer_target_ != kNoNode) return refuse("a leadership transfer is in progress");
  if (!config_.bugs.allow_concurrent_conf_changes) {
    if (conf_change_pending()) {
      return refuse("another membership change (index " + std::to_string(membership_.index) +
                    ") is not committed yet; retry once it is");
    }
    // A leader changes the configuration only once an entry of its own term committed, or a
    // change of a deposed leader it does not know of yet could overlap with this one (the
    // single-server change bug, Ongaro's raft-dev post of 2015).
    if (log_.term_at(log_.committed()) != term_) {
      return refuse("the new leader has not committed an entry of its term yet; retry shortly");
    }
  }
  if (Status s = check_conf_change(membership_, change); !s) return refuse(s.message());
  Index index = log_.last_index() + 1;
  Membership next = apply_conf_change(membership_, change, index);
  log_.append({Entry{term_, index, EntryType::kConfChange, encode_conf_entry(change, next)}});
  result.accepted = true;
  result.first_index = result.last_index = index;
  refresh_membership();  // effective at once (§4.1)
  broadcast_append();
  maybe_commit();  // a single voter commits on its own once the entry is durable
  return result;
}

void Core::maybe_advance_membership() {
  if (role_ != Role::kLeader) return;
  if (!conf_change_pending() && !membership_.is_voter(config_.id)) {
    // Our own removal (or demotion) committed: hand leadership to the most up-to-date voter
    // so the cluster need not wait an election timeout, and step down (§4.2.2).
    hand_off_to_most_up_to_date_voter();
    become_follower(term_, kNoNode);
    return;
  }
  if (conf_change_pending() || transfer_target_ != kNoNode) return;
  if (log_.term_at(log_.committed()) != term_) return;
  for (const Member& m : membership_.members) {
    if (m.voter) continue;
    auto it = progress_.find(m.id);
    if (it == progress_.end()) continue;
    // Caught up (§4.2.1): within promote_lag entries of our log and answering.
    if (it->second.match + config_.promote_lag >= log_.last_index() && it->second.match > 0 &&
        it->second.recent_active) {
      propose_conf_change({.kind = ConfChange::Kind::kPromote, .id = m.id});
      return;  // one change at a time
    }
  }
}

std::vector<MemberProgress> Core::member_progress() const {
  std::vector<MemberProgress> out;
  if (role_ != Role::kLeader) return out;
  for (const Member& m : membership_.members) {
    MemberProgress mp{.id = m.id, .voter = m.voter, .address = m.address};
    if (m.id == config_.id) {
      mp.match = log_.stable();
      mp.next = log_.last_index() + 1;
      mp.recent_active = true;
      mp.is_leader = true;
    } else if (auto it = progress_.find(m.id); it != progress_.end()) {
      mp.match = it->second.match;
      mp.next = it->second.next;
      mp.recent_active = it->second.recent_active;
    }
    out.push_back(std::move(mp));
  }
  return out;
}

}  // namespace nomad::raft
