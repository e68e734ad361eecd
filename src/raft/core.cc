// Construction, role transitions, the step dispatcher, proposals and the Ready cycle.

#include "raft/core.h"

#include <algorithm>
#include <cassert>

namespace nomad::raft {

const char* role_name(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "unknown";
}

bool role_from_name(const std::string& name, Role* role) {
  for (Role r : {Role::kFollower, Role::kPreCandidate, Role::kCandidate, Role::kLeader}) {
    if (name == role_name(r)) {
      *role = r;
      return true;
    }
  }
  return false;
}

const char* message_type_name(MessageType type) {
  switch (type) {
    case MessageType::kPreVote: return "PreVote";
    case MessageType::kPreVoteResponse: return "PreVoteResponse";
    case MessageType::kVote: return "Vote";
    case MessageType::kVoteResponse: return "VoteResponse";
    case MessageType::kAppend: return "Append";
    case MessageType::kAppendResponse: return "AppendResponse";
    case MessageType::kHeartbeat: return "Heartbeat";
    case MessageType::kHeartbeatResponse: return "HeartbeatResponse";
    case MessageType::kTimeoutNow: return "TimeoutNow";
    case MessageType::kSnapshot: return "Snapshot";
    case MessageType::kSnapshotResponse: return "SnapshotResponse";
  }
  return "Unknown";
}

const char* replication_state_name(ReplicationState state) {
  switch (state) {
    case ReplicationState::kProbe: return "probe";
    case ReplicationState::kReplicate: return "replicate";
    case ReplicationState::kSnapshot: return "snapshot";
  }
  return "unknown";
}

Core::Core(Config config, RestoredState restored)
    : config_(std::move(config)),
      rng_(config_.seed ^ (config_.id * 0x9e3779b97f4a7c15ULL)),
      log_(restored.snapshot_index, restored.snapshot_term) {
  assert(config_.id != kNoNode && is_voter(config_.id));
  assert(config_.election_ticks > 0 && config_.heartbeat_ticks > 0);
  log_.append(std::move(restored.entries));
  log_.restore_cursors(restored.hard_state.commit, restored.applied);
  term_ = restored.hard_state.term;
  vote_ = restored.hard_state.vote;
  persisted_hard_state_ = hard_state();
  snapshot_ = {restored.snapshot_index, restored.snapshot_term, std::move(restored.snapshot_data)};
  become_follower(term_, kNoNode);
}

bool Core::is_voter(NodeId id) const {
  return std::find(config_.voters.begin(), config_.voters.end(), id) != config_.voters.end();
}

void Core::reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;  // a vote belongs to one term; it is never cleared within that term
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  votes_.clear();
  progress_.clear();
  transfer_target_ = kNoNode;
  reset_election_timer();
}

void Core::reset_election_timer() {
  // Randomized timeouts make split votes rare and short-lived (§5.2).
  randomized_election_timeout_ =
      config_.election_ticks + static_cast<int>(rng_.below(config_.election_ticks));
}

void Core::become_follower(Term term, NodeId leader) {
  reset(term);
  role_ = Role::kFollower;
  leader_ = leader;
}

void Core::become_pre_candidate() {
  // A pre-candidate keeps its term and vote: only a successful pre-vote round may disturb
  // the cluster with a higher term.
  votes_.clear();
  progress_.clear();
  leader_ = kNoNode;
  election_elapsed_ = 0;
  reset_election_timer();
  role_ = Role::kPreCandidate;
}

void Core::become_candidate() {
  reset(term_ + 1);
  vote_ = config_.id;
  role_ = Role::kCandidate;
}

void Core::become_leader() {
  reset(term_);
  role_ = Role::kLeader;
  leader_ = config_.id;
  for (NodeId peer : config_.voters) {
    if (peer == config_.id) continue;
    Progress p;
    p.next = log_.last_index() + 1;
    p.recent_active = true;  // give every peer a full window before check-quorum judges it
    progress_[peer] = p;
  }
  // A leader cannot know which earlier-term entries are committed until it commits one of its
  // own term (§5.4.2, §8): the no-op does that without waiting for a client.
  log_.append({Entry{term_, log_.last_index() + 1, EntryType::kNoop, {}}});
  broadcast_append();
  maybe_commit();  // a single-node cluster commits on its own once the entry is stable
}

void Core::send(Message message) {
  message.from = config_.id;
  if (message.type != MessageType::kPreVote && message.type != MessageType::kPreVoteResponse) {
    message.term = term_;
  }
  outbox_.push_back(std::move(message));
}

void Core::tick() {
  assert(!ready_outstanding_);
  // A node that cannot persist a vote must not campaign: it could not keep the promise.
  if (storage_failed_) return;
  if (role_ == Role::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

bool Core::step(const Message& m, std::string* why) {
  assert(!ready_outstanding_);
  auto drop = [why](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (m.to != config_.id) return drop("message addressed to another node");
  // Every answer would promise something (an entry held, a vote) that is not on disk.
  if (storage_failed_) return drop("this node cannot write to its disk");
  if (m.from == config_.id || !is_voter(m.from)) return drop("message from a non-member");
  if (m.type == MessageType::kAppend && !validate_append(m, why)) return false;
  if (m.type == MessageType::kSnapshot && (m.index == 0 || m.log_term == 0 || m.log_term > m.term)) {
    return drop("snapshot chunk names an impossible snapshot");
  }

  if (m.term > term_) {
    bool is_vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
    if (is_vote_request && !m.transfer && in_leader_lease()) {
      // We heard from a leader within the minimum election timeout: this candidate is most
      // likely the one that was cut off, so it must not depose a working leader (§6 thesis).
      return true;
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote never changes our term.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A granted pre-vote carries the term we would campaign in, not the voter's own term.
    } else {
      bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                         m.type == MessageType::kSnapshot;
      become_follower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
        m.type == MessageType::kSnapshot) {
      // A deposed leader that was cut off learns the new term from this and steps down;
      // with pre-vote and check-quorum nothing else would ever tell it.
      send({.type = MessageType::kAppendResponse, .to = m.from});
    } else if (m.type == MessageType::kPreVote || m.type == MessageType::kVote) {
      // "Reply false if term < currentTerm" (Figure 2); our term tells the candidate it is
      // behind.
      MessageType type = m.type == MessageType::kVote ? MessageType::kVoteResponse
                                                     : MessageType::kPreVoteResponse;
      send({.type = type, .to = m.from, .term = term_, .reject = true});
    }
    return true;  // every other stale message is ignored (§5.1)
  }

  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      handle_vote_request(m);
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse:
      handle_vote_response(m);
      break;
    case MessageType::kAppend:
      handle_append(m);
      break;
    case MessageType::kHeartbeat:
      handle_heartbeat(m);
      break;
    case MessageType::kAppendResponse:
      handle_append_response(m);
      break;
    case MessageType::kHeartbeatResponse:
      handle_heartbeat_response(m);
      break;
    case MessageType::kTimeoutNow:
      handle_timeout_now(m);
      break;
    case MessageType::kSnapshot:
      handle_snapshot(m);
      break;
    case MessageType::kSnapshotResponse:
      handle_snapshot_response(m);
      break;
  }
  return true;
}

ProposeResult Core::propose(std::string command) {
  std::vector<std::string> one;
  one.push_back(std::move(command));
  return propose(std::move(one));
}

ProposeResult Core::propose(std::vector<std::string> commands) {
  assert(!ready_outstanding_);
  ProposeResult result;
  result.term = term_;
  // Proposals pause during a leadership transfer so the target can catch up and take over.
  if (role_ != Role::kLeader || transfer_target_ != kNoNode || commands.empty()) {
    result.leader_hint = leader_;
    return result;
  }
  std::vector<Entry> entries;
  entries.reserve(commands.size());
  Index index = log_.last_index();
  for (auto& c : commands) entries.push_back({term_, ++index, EntryType::kNormal, std::move(c)});
  result.accepted = true;
  result.first_index = log_.last_index() + 1;
  result.last_index = index;
  log_.append(std::move(entries));
  broadcast_append();
  return result;
}

bool Core::compact(Index index, std::shared_ptr<const std::string> data) {
  assert(!ready_outstanding_);
  if (index <= log_.snapshot_index() || index > log_.applied()) return false;
  Term term = *log_.term_at(index);
  log_.compact(index);
  snapshot_ = {index, term, std::move(data)};
  return true;
}

bool Core::has_ready() const {
  if (storage_failed_) return !outbox_.empty() || log_.applied() < log_.committed();
  return snapshot_to_install_ || !outbox_.empty() || log_.stable() < log_.last_index() ||
         log_.applied() < log_.committed() || hard_state() != persisted_hard_state_;
}

Ready Core::ready() {
  assert(!ready_outstanding_);
  Ready r;
  ready_previous_hard_state_ = persisted_hard_state_;
  if (storage_failed_) {
    // Only what needs no disk: messages that promise nothing (TimeoutNow) and entries that
    // are committed on a majority already.
    r.messages = std::move(outbox_);
    outbox_.clear();
    r.committed = log_.slice(log_.applied() + 1, log_.committed(), config_.max_committed_per_ready);
    ready_stable_to_ = log_.stable();
    ready_applied_to_ = r.committed.empty() ? log_.applied() : r.committed.back().index;
    ready_outstanding_ = true;
    return r;
  }
  r.snapshot = std::move(snapshot_to_install_);
  snapshot_to_install_.reset();
  if (hard_state() != persisted_hard_state_) r.hard_state = hard_state();
  r.entries = log_.slice(log_.stable() + 1, log_.last_index(), SIZE_MAX);
  r.must_sync = !r.entries.empty() ||
                (r.hard_state && (r.hard_state->term != persisted_hard_state_.term ||
                                  r.hard_state->vote != persisted_hard_state_.vote));
  r.messages = std::move(outbox_);
  outbox_.clear();
  r.committed = log_.slice(log_.applied() + 1, log_.committed(), config_.max_committed_per_ready);
  ready_stable_to_ = log_.last_index();
  ready_applied_to_ = r.committed.empty() ? log_.applied() : r.committed.back().index;
  if (r.hard_state) persisted_hard_state_ = *r.hard_state;
  ready_outstanding_ = true;
  return r;
}

void Core::advance() {
  assert(ready_outstanding_);
  ready_outstanding_ = false;
  log_.stable_to(ready_stable_to_);
  log_.applied_to(ready_applied_to_);
  // The leader's own copy counts toward a majority only once it is durable.
  if (role_ == Role::kLeader && maybe_commit()) broadcast_append();
}

void Core::persist_failed() {
  assert(ready_outstanding_);
  ready_outstanding_ = false;
  // Not stable: the entries are handed out again after storage_recovered(), and so is the
  // hard state. A leader never counted its own copy, so nothing committed on its account.
  persisted_hard_state_ = ready_previous_hard_state_;
  log_.applied_to(ready_applied_to_);
  if (storage_failed_) return;
  storage_failed_ = true;
  if (role_ == Role::kLeader) {
    // The peer that holds the most of our log can win an election at once (§3.10 of the
    // thesis); otherwise the cluster waits out an election timeout without a leader.
    NodeId successor = kNoNode;
    Index best = 0;
    for (const auto& [id, p] : progress_) {
      if (successor == kNoNode || p.match > best) {
        successor = id;
        best = p.match;
      }
    }
    if (successor != kNoNode) send({.type = MessageType::kTimeoutNow, .to = successor});
  }
  become_follower(term_, kNoNode);
}

void Core::storage_recovered() {
  assert(!ready_outstanding_);
  if (!storage_failed_) return;
  storage_failed_ = false;
  // A full election timeout to hear from the current leader before campaigning.
  election_elapsed_ = 0;
  reset_election_timer();
}

}  // namespace nomad::raft
