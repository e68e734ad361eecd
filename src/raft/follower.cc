// The follower's side of replication (§5.3): the AppendEntries consistency check, conflict
// truncation, the follower commit rule and the fast-backtracking hint.

#include <algorithm>

#include "raft/core.h"

namespace nomad::raft {

bool Core::validate_append(const Message& m, std::string* why) const {
  auto fail = [why](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  Index expected = m.index + 1;
  Term previous_term = m.log_term;
  for (const Entry& e : m.entries) {
    if (e.index != expected++) return fail("append entries are not contiguous from index + 1");
    if (e.type == EntryType::kConfChange && !decode_conf_entry(e.data, nullptr, nullptr)) {
      return fail("append carries a malformed configuration entry");
    }
    if (e.term < previous_term) return fail("append entry terms decrease");
    if (e.term > m.term) return fail("append entry term is later than the message term");
    previous_term = e.term;
  }
  if (m.log_term > m.term) return fail("append previous term is later than the message term");
  return true;
}

void Core::handle_append(const Message& m) {
  // A candidate that hears from a leader of its own term lost the election (§5.2).
  if (role_ != Role::kFollower) become_follower(term_, m.from);
  leader_ = m.from;
  election_elapsed_ = 0;

  Message response{.type = MessageType::kAppendResponse, .to = m.from};
  if (m.index < log_.committed()) {
    // Everything up to our commit index is known to match the leader's log; entries below it
    // may even be compacted. Tell the leader where we really are.
    response.index = log_.committed();
    send(std::move(response));
    return;
  }

  if (!log_.matches(m.index, m.log_term)) {
    // Consistency check failed (§5.3). Hint where our log diverges so the leader can skip a
    // whole term per round trip.
    response.reject = true;
    response.index = m.index;
    if (m.index > log_.last_index()) {
      response.conflict_index = log_.last_index() + 1;
    } else {
      response.conflict_term = *log_.term_at(m.index);
      response.conflict_index = log_.first_index_of_term_at(m.index);
    }
    send(std::move(response));
    return;
  }

  if (config_.bugs.truncate_on_stale_append) {
    // Planted bug: the naive "delete everything after prev_index", which loses acknowledged
    // entries when an older AppendEntries arrives after a newer one.
    log_.truncate_after(m.index);
    refresh_membership();
  }

  if (auto conflict = log_.find_conflict(m.entries); conflict && *conflict <= log_.committed()) {
    // Only a faulty or forged leader asks to overwrite a committed entry: refuse, keep ours.
    return;
  }
  bool truncated = log_.merge(m.entries).has_value();
  bool config_appended = std::any_of(m.entries.begin(), m.entries.end(), [](const Entry& e) {
    return e.type == EntryType::kConfChange;
  });
  // A configuration takes effect when appended and rolls back when its entry is cut (§4.1).
  if (truncated || config_appended) refresh_membership();
  Index last_new = m.index + m.entries.size();
  // Commit no further than the entries this message proves we share with the leader.
  log_.commit_to(std::min(m.commit, last_new));
  if (m.commit_only && m.entries.empty()) return;  // the leader wants no answer (types.h)
  response.index = last_new;
  send(std::move(response));
}

void Core::handle_heartbeat(const Message& m) {
  if (role_ != Role::kFollower) become_follower(term_, m.from);
  leader_ = m.from;
  election_elapsed_ = 0;
  // The leader caps m.commit at what it knows we hold.
  log_.commit_to(std::min(m.commit, log_.last_index()));
  send({.type = MessageType::kHeartbeatResponse, .to = m.from});
}

void Core::handle_snapshot(const Message& m) {
  if (role_ != Role::kFollower) become_follower(term_, m.from);
  leader_ = m.from;
  election_elapsed_ = 0;

  Message response{.type = MessageType::kSnapshotResponse, .to = m.from, .index = m.index};
  if (m.index <= log_.committed() || log_.matches(m.index, m.log_term)) {
    // We already hold everything the snapshot covers: no need to install it.
    log_.commit_to(std::min(m.index, log_.last_index()));
    response.done = true;
    send(std::move(response));
    return;
  }
  if (m.offset == 0) {
    incoming_index_ = m.index;
    incoming_term_ = m.log_term;
    incoming_bytes_.clear();
  }
  if (incoming_index_ != m.index || incoming_term_ != m.log_term ||
      m.offset != incoming_bytes_.size()) {
    // A chunk out of order (a lost or duplicated message): say where we are.
    response.reject = true;
    response.offset = incoming_index_ == m.index ? incoming_bytes_.size() : 0;
    send(std::move(response));
    return;
  }
  incoming_bytes_ += m.chunk;
  response.offset = incoming_bytes_.size();
  if (m.done) {
    // Our log does not contain the snapshot's last entry, so nothing in it can be trusted
    // to match the leader's: it is replaced as a whole (§7).
    log_.reset_to_snapshot(m.index, m.log_term);
    snapshot_ = {m.index, m.log_term,
                 std::make_shared<const std::string>(std::move(incoming_bytes_)), m.membership};
    snapshot_to_install_ = snapshot_;
    incoming_bytes_.clear();
    incoming_index_ = 0;
    refresh_membership();
    response.done = true;
  }
  send(std::move(response));
}

}  // namespace nomad::raft
