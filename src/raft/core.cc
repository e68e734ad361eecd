// Construction, role transitions, the step dispatcher, proposals and the Ready cycle.

#include "raft/core.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace nomad::raft {

const char* role_name(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
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
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResponse:
      return "PreVoteResponse";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResponse:
      return "VoteResponse";
    case MessageType::kAppend:
      return "Append";
    case MessageType::kAppendResponse:
      return "AppendResponse";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResponse:
      return "HeartbeatResponse";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kSnapshot:
      return "Snapshot";
    case MessageType::kSnapshotResponse:
      return "SnapshotResponse";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResponse:
      return "ReadIndexResponse";
  }
  return "Unknown";
}

const char* replication_state_name(ReplicationState state) {
  switch (state) {
    case ReplicationState::kProbe:
      return "probe";
    case ReplicationState::kReplicate:
      return "replicate";
    case ReplicationState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

Status Config::validate() const {
  auto error = [](std::string what) { return Status::error("raft config: " + what); };
  if (id == kNoNode) return error("id must be a non-zero node id");
  if (join && !voters.empty()) {
    return error("a joining node starts with no voters: leave voters empty with join");
  }
  if (!join && std::find(voters.begin(), voters.end(), id) == voters.end()) {
    return error("voters must include this node's own id " + std::to_string(id));
  }
  std::vector<NodeId> sorted = voters;
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty() && sorted.front() == kNoNode) return error("voter ids must be non-zero");
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return error("voter ids must be distinct");
  }
  if (election_ticks <= 0 || heartbeat_ticks <= 0) {
    return error("election_ticks and heartbeat_ticks must be positive");
  }
  if (heartbeat_ticks >= election_ticks) {
    return error("heartbeat_ticks (" + std::to_string(heartbeat_ticks) +
                 ") must be less than election_ticks (" + std::to_string(election_ticks) +
                 "), or followers time out between heartbeats");
  }
  for (const auto& [voter, address] : addresses) {
    if (address.size() > kMaxAddressBytes) {
      return error("address of node " + std::to_string(voter) + " is longer than " +
                   std::to_string(kMaxAddressBytes) + " bytes");
    }
  }
  if (max_entries_per_append == 0 || max_bytes_per_append == 0 || max_inflight_appends == 0 ||
      max_committed_per_ready == 0 || snapshot_chunk_bytes == 0) {
    return error(
        "max_entries_per_append, max_bytes_per_append, max_inflight_appends, "
        "max_committed_per_ready and snapshot_chunk_bytes must be positive");
  }
  return Status::ok();
}

namespace {

Config validated(Config config) {
  if (Status s = config.validate(); !s) throw std::invalid_argument(s.message());
  return config;
}

// What a restart read back must form a log: entries right after the snapshot, in order.
RestoredState checked(RestoredState r) {
  for (size_t i = 0; i < r.entries.size(); ++i) {
    if (r.entries[i].index != r.snapshot_index + 1 + i) {
      throw std::invalid_argument("raft restored state: entry " + std::to_string(i) +
                                  " has index " + std::to_string(r.entries[i].index) +
                                  ", expected " + std::to_string(r.snapshot_index + 1 + i));
    }
  }
  return r;
}

}  // namespace

Core::Core(Config config, RestoredState restored_state)
    : config_(validated(std::move(config))),
      rng_(config_.seed ^ (config_.id * 0x9e3779b97f4a7c15ULL)),
      log_(restored_state.snapshot_index, restored_state.snapshot_term) {
  RestoredState restored = checked(std::move(restored_state));
  if (!config_.join) bootstrap_ = bootstrap_membership(config_.voters, config_.addresses);
  log_.append(std::move(restored.entries));
  log_.restore_cursors(restored.hard_state.commit, restored.applied);
  term_ = restored.hard_state.term;
  vote_ = restored.hard_state.vote;
  handed_hard_state_ = hard_state();
  snapshot_ = {restored.snapshot_index, restored.snapshot_term, std::move(restored.snapshot_data),
               std::move(restored.snapshot_membership)};
  become_follower(term_, kNoNode);
  membership_ = membership_at(log_.last_index());
  membership_changed_ = true;
  handed_soft_state_ = soft_state();
}

void Core::require(bool condition, const char* what) const {
  if (!condition) throw std::logic_error(std::string("raft core: ") + what);
}

bool Core::is_voter(NodeId id) const { return membership_.is_voter(id); }

void Core::reset(Term term) {
  abandon_reads();  // a read index is only good from the leader of one term
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
  for (const Member& member : membership_.members) {
    NodeId peer = member.id;
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
  if (storage_failed_ && message.type != MessageType::kTimeoutNow) return;  // promises nothing
  (may_leave_at_once(message) ? outbox_ : outbox_after_append_).push_back(std::move(message));
}

bool Core::may_leave_at_once(const Message& m) const {
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
    case MessageType::kTimeoutNow:
      // A leader's requests depend on nothing it has yet to write (thesis §10.2.1): its term
      // is durable (its vote requests waited for it), and it counts its own copy of new
      // entries only once persisted() reports them.
      return role_ == Role::kLeader;
    case MessageType::kPreVote:
      // Speaks of a term nobody has entered and promises nothing.
      return true;
    case MessageType::kReadIndexResponse:
      // A leader's answer names a commit index, durable on a majority already, in a term
      // that is durable here; a refusal from any other role may speak of a term just entered.
      return role_ == Role::kLeader;
    case MessageType::kVoteResponse:
      return config_.bugs.send_vote_before_durable;
    default:
      // A vote request (its term and self-vote must survive a crash), a vote, an
      // acknowledgement, any answer in a term this node may have just entered.
      return false;
  }
}

void Core::tick() {
  require(!ready_outstanding_, "tick() between ready() and advance()");
  // A node that cannot persist a vote must not campaign: it could not keep the promise.
  if (storage_failed_) return;
  if (role_ == Role::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

bool Core::step(const Message& m, std::string* why) {
  require(!ready_outstanding_, "step() between ready() and advance()");
  auto drop = [why](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (m.to != config_.id) return drop("message addressed to another node");
  // Every answer would promise something (an entry held, a vote) that is not on disk.
  if (storage_failed_) return drop("this node cannot write to its disk");
  // Messages from outside this node's configuration are stepped: a leader elected in a
  // configuration this node has not learned yet must reach it (thesis §4.1). A removed server
  // cannot disrupt: pre-vote and the leader lease refuse its elections (§4.2.3).
  if (m.from == kNoNode || m.from == config_.id) return drop("message from no node or itself");
  if (m.type == MessageType::kSnapshot && !check_membership(m.membership)) {
    return drop("snapshot chunk carries a malformed configuration");
  }
  if (m.type == MessageType::kAppend && !validate_append(m, why)) return false;
  if (m.type == MessageType::kSnapshot &&
      (m.index == 0 || m.log_term == 0 || m.log_term > m.term)) {
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
      MessageType type =
          m.type == MessageType::kVote ? MessageType::kVoteResponse : MessageType::kPreVoteResponse;
      send({.type = type, .to = m.from, .term = term_, .reject = true});
    } else if (m.type == MessageType::kReadIndex) {
      // The asker follows a leader of an old term: it asks again once it knows the new one.
      send({.type = MessageType::kReadIndexResponse,
            .to = m.from,
            .reject = true,
            .read_context = m.read_context});
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
    case MessageType::kReadIndex:
      handle_read_index(m);
      break;
    case MessageType::kReadIndexResponse:
      handle_read_index_response(m);
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
  require(!ready_outstanding_, "propose() between ready() and advance()");
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
  require(!ready_outstanding_, "compact() between ready() and advance()");
  if (index <= log_.snapshot_index() || index > log_.applied()) return false;
  Term term = *log_.term_at(index);
  Membership membership = membership_at(index);
  log_.compact(index);
  snapshot_ = {index, term, std::move(data), std::move(membership)};
  return true;
}

namespace {

// Entries up to here may be applied: committed, and durable on this node too (core.h).
Index appliable(const RaftLog& log) { return std::min(log.committed(), log.stable()); }

}  // namespace

bool Core::has_ready() const {
  if (soft_state() != handed_soft_state_ || !outbox_.empty() || log_.applied() < appliable(log_) ||
      membership_changed_ || !read_states_.empty()) {
    return true;
  }
  if (storage_failed_) return false;
  return snapshot_to_install_ || !outbox_after_append_.empty() ||
         log_.handed() < log_.last_index() || hard_state() != handed_hard_state_ ||
         rehand_hard_state_;
}

Ready Core::ready() {
  require(!ready_outstanding_, "ready() twice without advance()");
  Ready r;
  if (soft_state() != handed_soft_state_) {
    r.soft_state = soft_state();
    handed_soft_state_ = *r.soft_state;
  }
  r.messages = std::move(outbox_);
  outbox_.clear();
  if (membership_changed_) {
    r.membership = membership_;
    membership_changed_ = false;
  }
  r.read_states = std::move(read_states_);
  read_states_.clear();
  r.committed = log_.slice(log_.applied() + 1, appliable(log_), config_.max_committed_per_ready);
  ready_applied_to_ = r.committed.empty() ? log_.applied() : r.committed.back().index;
  ready_handed_to_ = log_.handed();
  ready_outstanding_ = true;
  // A node that cannot persist hands out only what needs no disk: messages that promise
  // nothing (TimeoutNow) and entries committed and durable already.
  if (storage_failed_) return r;

  r.snapshot = std::move(snapshot_to_install_);
  snapshot_to_install_.reset();
  if (hard_state() != handed_hard_state_ || rehand_hard_state_) r.hard_state = hard_state();
  r.entries = log_.slice(log_.handed() + 1, log_.last_index(), SIZE_MAX);
  r.must_sync = !r.entries.empty() || rehand_hard_state_ ||
                (r.hard_state && (r.hard_state->term != handed_hard_state_.term ||
                                  r.hard_state->vote != handed_hard_state_.vote));
  r.messages_after_append = std::move(outbox_after_append_);
  outbox_after_append_.clear();
  ready_handed_to_ = log_.last_index();
  if (r.hard_state) handed_hard_state_ = *r.hard_state;
  rehand_hard_state_ = false;
  return r;
}

void Core::advance() {
  require(ready_outstanding_, "advance() without ready()");
  ready_outstanding_ = false;
  log_.handed_to(ready_handed_to_);
  log_.applied_to(ready_applied_to_);
}

bool Core::persisted(Index index, Term term) {
  require(!ready_outstanding_, "persisted() between ready() and advance()");
  // A report of a write a later Ready replaced says nothing about the entries there now; one
  // beyond what was handed out cannot be about this log.
  if (storage_failed_ || index > log_.handed() || index <= log_.stable()) return false;
  if (log_.term_at(index) != term) return false;
  log_.stable_to(index);
  // The leader's own copy counts toward a majority only once it is durable.
  if (role_ == Role::kLeader && maybe_commit()) broadcast_commit();
  maybe_advance_membership();
  return true;
}

void Core::persist_failed() {
  require(!ready_outstanding_, "persist_failed() between ready() and advance()");
  // Nothing handed out since the last durable write reached the disk: it is handed out again
  // after storage_recovered(), the hard state too. A leader never counted its own copy of it,
  // so nothing committed on its account. Answers waiting for those writes are lost.
  log_.unhand_to_stable();
  rehand_hard_state_ = true;
  outbox_after_append_.clear();
  if (storage_failed_) return;
  storage_failed_ = true;
  if (role_ == Role::kLeader) {
    // The peer that holds the most of our log can win an election at once (§3.10 of the
    // thesis); otherwise the cluster waits out an election timeout without a leader.
    hand_off_to_most_up_to_date_voter();
  }
  become_follower(term_, kNoNode);
}

void Core::hand_off_to_most_up_to_date_voter() {
  NodeId successor = kNoNode;
  Index best = 0;
  for (const auto& [id, p] : progress_) {
    if (membership_.is_voter(id) && (successor == kNoNode || p.match > best)) {
      successor = id;
      best = p.match;
    }
  }
  if (successor != kNoNode) send({.type = MessageType::kTimeoutNow, .to = successor});
}

void Core::storage_recovered() {
  require(!ready_outstanding_, "storage_recovered() between ready() and advance()");
  if (!storage_failed_) return;
  storage_failed_ = false;
  // A full election timeout to hear from the current leader before campaigning.
  election_elapsed_ = 0;
  reset_election_timer();
}

}  // namespace nomad::raft
