#include "invariants.h"

#include <algorithm>
#include <utility>

#include "trace.h"

namespace nomad::sim {

using raft::Entry;
using raft::Index;
using raft::NodeId;
using raft::Role;
using raft::Term;

const char* violation_kind_name(ViolationKind kind) {
  switch (kind) {
    case ViolationKind::kElectionSafety:
      return "election_safety";
    case ViolationKind::kLogMatching:
      return "log_matching";
    case ViolationKind::kLeaderAppendOnly:
      return "leader_append_only";
    case ViolationKind::kLeaderCompleteness:
      return "leader_completeness";
    case ViolationKind::kCommittedEntryLost:
      return "committed_entry_lost";
    case ViolationKind::kAcknowledgedEntryLost:
      return "acknowledged_entry_lost";
    case ViolationKind::kStateMachineSafety:
      return "state_machine_safety";
    case ViolationKind::kApplyOrder:
      return "apply_order";
    case ViolationKind::kCommitRegressed:
      return "commit_regressed";
    case ViolationKind::kPersistenceContract:
      return "persistence_contract";
    case ViolationKind::kCommitNotDurable:
      return "commit_not_durable";
    case ViolationKind::kMembershipChange:
      return "membership_change";
    case ViolationKind::kLiveness:
      return "liveness";
  }
  return "unknown";
}

namespace {

std::string node_name(NodeId id) { return "n" + std::to_string(id); }

std::string at(Index index, Term term) {
  return std::to_string(index) + "@" + std::to_string(term);
}

}  // namespace

InvariantChecker::InvariantChecker(const std::vector<SimNode>& nodes)
    : nodes_(nodes), tracks_(nodes.size()) {}

void InvariantChecker::fail(ViolationKind kind, std::string details) {
  if (!violation_) violation_ = Violation{kind, now_, std::move(details)};
}

void InvariantChecker::report(ViolationKind kind, std::string details) {
  fail(kind, std::move(details));
}

void InvariantChecker::after_event(const SimNode& node, Index may_change_from) {
  if (failed() || !node.up()) return;
  check_election_safety(node);
  // By default look from the last entry on: a new leader may have replaced it.
  Index from = may_change_from != 0 ? may_change_from : track(node).log.size();
  sync_log(node, std::max<Index>(from, 1));
  check_commit(node);
  check_leader(node);
}

void InvariantChecker::after_start(const SimNode& node) {
  if (failed() || !node.up()) return;
  NodeTrack& t = track(node);
  NodeTrack fresh;
  fresh.acked_term = t.acked_term;  // acknowledged entries were persisted before the answer
  fresh.acked_index = t.acked_index;
  t = std::move(fresh);
  sync_log(node, 1);
  Index restored = node.core().commit_index();
  Index persisted = node.disk().hard_state.commit;
  if (restored < persisted) {
    fail(ViolationKind::kCommitRegressed, node_name(node.id()) + " restarted with commit index " +
                                              std::to_string(restored) + " below the " +
                                              std::to_string(persisted) + " it had persisted");
  }
  // Every restored committed entry is compared with the global record (t.commit is 0).
  check_election_safety(node);
  check_commit(node);
  check_leader(node);
}

void InvariantChecker::before_crash(const SimNode& node) {
  const Term durable = node.disk().hard_state.term;
  const std::vector<ShadowEntry>& shadow = track(node).log;
  // Terms never decrease along a log, so such entries form its tail.
  for (Index i = shadow.size(); i >= 1 && shadow[i - 1].term > durable; --i) {
    std::vector<ChainRecord>& seen = chains_[i - 1];
    std::erase_if(seen, [&](const ChainRecord& r) {
      return r.term == shadow[i - 1].term && r.node == node.id();
    });
  }
}

void InvariantChecker::align_snapshot(const SimNode& node) {
  const raft::RaftLog& log = node.core().log();
  NodeTrack& t = track(node);
  const Index snap = log.snapshot_index();
  if (snap == t.snapshot) return;
  t.snapshot = snap;
  if (snap == 0) return;
  const std::string name = node_name(node.id());
  // Compacted entries were applied, hence committed: the record must reach that far.
  if (snap > committed_.size()) {
    fail(ViolationKind::kStateMachineSafety,
         name + "'s log starts after a snapshot at " + std::to_string(snap) + " but only " +
             std::to_string(committed_.size()) + " entries are known to be committed");
    return;
  }
  const CommittedRecord& at_snap = committed_[snap - 1];
  if (log.term_at(snap) != at_snap.term) {
    fail(ViolationKind::kStateMachineSafety,
         name + "'s snapshot ends at " + at(snap, *log.term_at(snap)) +
             " but the committed entry there is " + at_snap.entry);
    return;
  }
  std::vector<ShadowEntry>& shadow = t.log;
  if (shadow.size() >= snap && shadow[snap - 1].chain_hash == at_snap.chain_hash) return;
  // The snapshot replaced entries this node held (an installed snapshot): from the first one
  // that differs, the shadow takes the committed prefix.
  Index i = 1;
  while (i <= snap && i <= shadow.size() &&
         shadow[i - 1].chain_hash == committed_[i - 1].chain_hash) {
    ++i;
  }
  if (i <= shadow.size() && i <= t.commit) {
    fail(ViolationKind::kCommittedEntryLost, name + " lost committed entry " +
                                                 at(i, shadow[i - 1].term) + " to a snapshot at " +
                                                 std::to_string(snap));
    return;
  }
  shadow.resize(i - 1);
  for (; i <= snap; ++i) {
    const CommittedRecord& r = committed_[i - 1];
    shadow.push_back({r.term, r.data_hash, r.chain_hash});
  }
}

bool InvariantChecker::check_snapshot(const SimNode& node, const raft::Snapshot& snapshot,
                                      const char* what) {
  const std::string name = node_name(node.id());
  auto state = snapshot.data ? StateMachine::restore(*snapshot.data) : std::nullopt;
  if (!state || state->applied != snapshot.index) {
    fail(ViolationKind::kStateMachineSafety,
         name + " " + what + " " + at(snapshot.index, snapshot.term) +
             " whose bytes are not the state machine at that index (" +
             std::to_string(snapshot.data ? snapshot.data->size() : 0) + " bytes)");
    return false;
  }
  if (snapshot.index > committed_.size() || committed_[snapshot.index - 1].term != snapshot.term ||
      committed_[snapshot.index - 1].chain_hash != state->hash) {
    fail(ViolationKind::kStateMachineSafety,
         name + " " + what + " " + at(snapshot.index, snapshot.term) +
             " that does not hold the committed entries up to that index");
    return false;
  }
  return true;
}

void InvariantChecker::sync_log(const SimNode& node, Index from) {
  align_snapshot(node);
  if (failed()) return;
  const raft::RaftLog& log = node.core().log();
  NodeTrack& t = track(node);
  std::vector<ShadowEntry>& shadow = t.log;
  const Index last = log.last_index();
  const Index first_held = log.first_index();  // below it: the snapshot, aligned above

  auto same = [&](Index i) {
    const Entry& e = log.at(i);
    const ShadowEntry& s = shadow[i - 1];
    return s.term == e.term && s.data_hash == entry_data_hash(e);
  };

  Index start = std::min<Index>({from, shadow.size() + 1, last + 1});
  start = std::max(start, first_held);
  // If the entry just below the starting point changed too, the change began earlier.
  while (start > first_held && start - 1 <= shadow.size() && start - 1 <= last &&
         !same(start - 1)) {
    --start;
  }
  Index i = start;
  const Index common = std::min<Index>(shadow.size(), last);
  while (i <= common && same(i)) ++i;
  if (i > last && i > shadow.size()) return;  // unchanged

  if (i <= shadow.size()) {
    // An entry this node held was removed or replaced.
    std::string was = at(i, shadow[i - 1].term);
    std::string now = i <= last ? describe_entry(log.at(i)) : "nothing";
    if (i <= t.commit) {
      fail(ViolationKind::kCommittedEntryLost,
           node_name(node.id()) + " lost committed entry " + was + " (commit index " +
               std::to_string(t.commit) + "); its log now has " + now + " at index " +
               std::to_string(i) + " and ends at " + std::to_string(last));
    }
    // The leader of this term may have counted the acknowledgment toward a commit: only a
    // leader of a later term may replace what a follower acknowledged.
    if (node.core().term() == t.acked_term && i <= t.acked_index) {
      fail(ViolationKind::kAcknowledgedEntryLost,
           node_name(node.id()) + " dropped entry " + was + " which it had acknowledged up to " +
               "index " + std::to_string(t.acked_index) + " in its current term " +
               std::to_string(t.acked_term) + "; its log now has " + now + " there and ends at " +
               std::to_string(last));
    }
    if (t.leader && node.core().role() == Role::kLeader && node.core().term() == t.leader_term) {
      fail(ViolationKind::kLeaderAppendOnly, node_name(node.id()) + ", leader of term " +
                                                 std::to_string(t.leader_term) +
                                                 ", rewrote its own entry " + was + " to " + now);
    }
  }

  shadow.resize(i - 1);
  uint64_t chain = i > 1 ? shadow[i - 2].chain_hash : 0;
  if (chains_.size() < last) chains_.resize(last);
  for (; i <= last; ++i) {
    const Entry& e = log.at(i);
    ShadowEntry s{e.term, entry_data_hash(e), 0};
    chain = chain_hash(chain, i, e.term, s.data_hash);
    s.chain_hash = chain;
    shadow.push_back(s);

    std::vector<ChainRecord>& seen = chains_[i - 1];
    auto it = std::find_if(seen.begin(), seen.end(),
                           [&](const ChainRecord& r) { return r.term == e.term; });
    if (e.type == raft::EntryType::kConfChange && node.core().role() == Role::kLeader &&
        e.term == node.core().term()) {
      check_conf_entry(node, e);
    }
    if (it == seen.end()) {
      seen.push_back({e.term, chain, node.id()});
    } else if (it->chain_hash != chain) {
      fail(ViolationKind::kLogMatching, node_name(node.id()) + " and " + node_name(it->node) +
                                            " both hold entry " + at(i, e.term) +
                                            " but their logs differ at or before it; " +
                                            first_difference(node, it->node, i));
    }
  }
}

std::string InvariantChecker::first_difference(const SimNode& a, NodeId b_id, Index upto) const {
  const SimNode& b = nodes_[b_id - 1];
  if (!b.up()) return node_name(b_id) + " has crashed since, its log is gone";
  const raft::RaftLog& la = a.core().log();
  const raft::RaftLog& lb = b.core().log();
  Index end = std::min({upto, la.last_index(), lb.last_index()});
  for (Index i = std::max(la.first_index(), lb.first_index()); i <= end; ++i) {
    const Entry& ea = la.at(i);
    const Entry& eb = lb.at(i);
    if (ea.term != eb.term || ea.type != eb.type || ea.data != eb.data) {
      return "first difference at index " + std::to_string(i) + ": " + node_name(a.id()) + " has " +
             describe_entry(ea) + ", " + node_name(b_id) + " has " + describe_entry(eb);
    }
  }
  return node_name(b_id) + "'s log has changed since it held that entry";
}

void InvariantChecker::check_commit(const SimNode& node) {
  const raft::Core& core = node.core();
  NodeTrack& t = track(node);
  const Index commit = core.commit_index();
  const Index last = core.log().last_index();
  if (commit < t.commit) {
    fail(ViolationKind::kCommitRegressed, node_name(node.id()) + " commit index went from " +
                                              std::to_string(t.commit) + " back to " +
                                              std::to_string(commit));
    return;
  }
  if (commit > last) {
    fail(ViolationKind::kCommittedEntryLost, node_name(node.id()) + " has commit index " +
                                                 std::to_string(commit) + " but its log ends at " +
                                                 std::to_string(last));
    return;
  }
  for (Index i = t.commit + 1; i <= commit; ++i) {
    if (i >= core.log().first_index()) {
      record_committed(node, core.log().at(i));
    } else if (i > committed_.size()) {
      // Compacted (the snapshot was checked against the record), so it must be recorded.
      fail(ViolationKind::kStateMachineSafety,
           node_name(node.id()) + " commits up to " + std::to_string(commit) +
               " from a snapshot beyond the " + std::to_string(committed_.size()) +
               " entries known to be committed");
      return;
    }
  }
  t.commit = commit;
}

void InvariantChecker::record_committed(const SimNode& node, const Entry& entry) {
  const Index i = entry.index;
  const uint64_t hash = entry_data_hash(entry);
  const Term observed_term = node.core().term();
  if (i <= committed_.size()) {
    CommittedRecord& r = committed_[i - 1];
    if (r.term != entry.term || r.data_hash != hash) {
      fail(ViolationKind::kStateMachineSafety,
           "index " + std::to_string(i) + " committed as " + r.entry + " by " + node_name(r.node) +
               " but as " + describe_entry(entry) + " by " + node_name(node.id()));
      return;
    }
    r.commit_term = std::min(r.commit_term, observed_term);
    return;
  }
  // Every node records its own commits in order, so the record grows without gaps.
  if (i != committed_.size() + 1) return;
  uint64_t chain = chain_hash(i > 1 ? committed_[i - 2].chain_hash : 0, i, entry.term, hash);
  committed_.push_back({entry.term, hash, chain, describe_entry(entry), observed_term, node.id()});

  // Committed means durable on a majority: a crash of every node may not lose it. Checked when
  // a leader decides it (a restarted follower may find its commit index on its own disk).
  if (node.core().role() == Role::kLeader) check_durable_on_majority(node, entry, hash);

  // Leaders already in office in a later term must hold it too.
  for (const SimNode& other : nodes_) {
    if (!other.up() || other.core().role() != Role::kLeader) continue;
    if (other.core().term() <= observed_term) continue;
    if (!holds_committed(other.core().log(), i)) {
      fail(ViolationKind::kLeaderCompleteness,
           node_name(other.id()) + ", leader of term " + std::to_string(other.core().term()) +
               ", lacks " + describe_entry(entry) + " which " + node_name(node.id()) +
               " committed in term " + std::to_string(observed_term));
      return;
    }
  }
}

void InvariantChecker::check_durable_on_majority(const SimNode& node, const Entry& entry,
                                                 uint64_t hash) {
  const Index i = entry.index;
  const raft::Core& core = node.core();
  // Durable on a majority of the voters of the configuration the leader counted with (a leader
  // removing itself is not one of them): the one in force now or, when the same step appended
  // a newer configuration (the leader promoting a learner right after the commit), the one
  // before it. Any two configurations' majorities overlap only if changes go one at a time.
  auto holders_in = [&](const raft::Membership& config, std::string* names) {
    size_t durable = 0;
    for (NodeId id : config.voters()) {
      const SimDisk& disk = nodes_[id - 1].disk();
      bool holds =
          i <= disk.snapshot_index || (i <= disk.last_index() && disk.at(i).term == entry.term &&
                                       entry_data_hash(disk.at(i)) == hash);
      if (holds) {
        ++durable;
        *names += " " + node_name(id);
      }
    }
    return durable;
  };
  const raft::Membership& now = core.membership();
  std::string holders;
  size_t durable = holders_in(now, &holders);
  if (durable >= now.voter_count() / 2 + 1) return;
  if (now.index > i && now.index > core.commit_index()) {
    std::string ignored;
    raft::Membership before = core.membership_at(now.index - 1);
    if (holders_in(before, &ignored) >= before.voter_count() / 2 + 1) return;
  }
  fail(ViolationKind::kCommitNotDurable,
       node_name(node.id()) + ", leader of term " + std::to_string(core.term()) + ", commits " +
           describe_entry(entry) + " but only " + std::to_string(durable) + " of " +
           std::to_string(now.voter_count()) +
           " voters' disks hold it:" + (holders.empty() ? std::string(" none") : holders));
}

namespace {

// How many servers differ between two configurations (added, removed or voting changed).
size_t servers_changed(const raft::Membership& a, const raft::Membership& b) {
  size_t changed = 0;
  for (const raft::Member& m : a.members) {
    const raft::Member* other = b.find(m.id);
    if (!other || other->voter != m.voter) ++changed;
  }
  for (const raft::Member& m : b.members) {
    if (!a.is_member(m.id)) ++changed;
  }
  return changed;
}

}  // namespace

void InvariantChecker::check_conf_entry(const SimNode& node, const Entry& entry) {
  const raft::Core& core = node.core();
  const raft::RaftLog& log = core.log();
  raft::Membership next;
  if (raft::Status s = raft::decode_conf_entry(entry.data, nullptr, &next); !s) {
    fail(ViolationKind::kMembershipChange,
         node_name(node.id()) + " appended " + describe_entry(entry) + ": " + s.message());
    return;
  }
  // One change at a time: no earlier configuration entry may still be uncommitted.
  for (Index i = std::max(core.commit_index() + 1, log.first_index()); i < entry.index; ++i) {
    if (log.at(i).type == raft::EntryType::kConfChange) {
      fail(ViolationKind::kMembershipChange,
           node_name(node.id()) + ", leader of term " + std::to_string(core.term()) +
               ", appended configuration " + describe_entry(entry) + " while the one at index " +
               std::to_string(i) + " is not committed (commit " +
               std::to_string(core.commit_index()) + ")");
      return;
    }
  }
  const raft::Membership before = core.membership_at(entry.index - 1);
  if (size_t changed = servers_changed(before, next); changed > 1) {
    fail(ViolationKind::kMembershipChange, node_name(node.id()) + " appended configuration " +
                                               describe_entry(entry) + " changing " +
                                               std::to_string(changed) + " servers at once");
  }
}

bool InvariantChecker::holds_committed(const raft::RaftLog& log, Index index) const {
  // A snapshot is checked to be the committed prefix when it is taken or installed.
  if (index <= log.snapshot_index()) return true;
  const CommittedRecord& r = committed_[index - 1];
  auto term = log.term_at(index);
  if (!term || *term != r.term) return false;
  return entry_data_hash(log.at(index)) == r.data_hash;
}

void InvariantChecker::check_election_safety(const SimNode& node) {
  const raft::Core& core = node.core();
  if (core.role() != Role::kLeader) return;
  auto [it, inserted] = leaders_.emplace(core.term(), node.id());
  if (!inserted && it->second != node.id()) {
    fail(ViolationKind::kElectionSafety, node_name(it->second) + " and " + node_name(node.id()) +
                                             " were both leader of term " +
                                             std::to_string(core.term()));
  }
}

void InvariantChecker::check_leader(const SimNode& node) {
  const raft::Core& core = node.core();
  NodeTrack& t = track(node);
  const bool leader = core.role() == Role::kLeader;
  const Term term = core.term();
  if (leader && (!t.leader || t.leader_term != term)) check_leader_has_committed(node);
  t.leader = leader;
  t.leader_term = leader ? term : 0;
}

void InvariantChecker::check_leader_has_committed(const SimNode& node) {
  const raft::Core& core = node.core();
  for (Index i = 1; i <= committed_.size(); ++i) {
    const CommittedRecord& r = committed_[i - 1];
    if (r.commit_term >= core.term() || holds_committed(core.log(), i)) continue;
    auto term = core.log().term_at(i);
    std::string has = term ? at(i, *term) : "no entry";
    fail(ViolationKind::kLeaderCompleteness,
         node_name(node.id()) + " became leader of term " + std::to_string(core.term()) +
             " without committed entry " + r.entry + " (committed by term " +
             std::to_string(r.commit_term) + "); it has " + has + " at index " + std::to_string(i));
    return;
  }
}

void InvariantChecker::before_persist(const SimNode& node, const raft::Ready& ready) {
  if (failed()) return;
  const SimDisk& disk = node.disk();
  const std::string name = node_name(node.id());

  // The disk as this Ready leaves it: an installed snapshot replaces the whole log, then the
  // entries replace the stored suffix from their first index on.
  Index base = disk.snapshot_index;  // entries at or below it are in the snapshot
  Index stored_last = disk.last_index();
  if (ready.snapshot) {
    if (!check_snapshot(node, *ready.snapshot, "installs a snapshot at")) return;
    if (ready.snapshot->index < disk.hard_state.commit) {
      fail(ViolationKind::kCommittedEntryLost, name + " installs a snapshot at " +
                                                   std::to_string(ready.snapshot->index) +
                                                   " over a log persisted as committed up to " +
                                                   std::to_string(disk.hard_state.commit));
      return;
    }
    base = ready.snapshot->index;
    stored_last = base;
  }
  Index first = stored_last + 1;
  Index new_last = stored_last;
  if (!ready.entries.empty()) {
    first = ready.entries.front().index;
    if (first <= base || first > stored_last + 1) {
      fail(ViolationKind::kPersistenceContract,
           name + " Ready entries start at " + std::to_string(first) + " but its disk log holds (" +
               std::to_string(base) + ", " + std::to_string(stored_last) + "]");
      return;
    }
    for (size_t k = 0; k < ready.entries.size(); ++k) {
      if (ready.entries[k].index != first + k) {
        fail(ViolationKind::kPersistenceContract,
             name + " Ready entries are not contiguous: " + describe_entries(ready.entries));
        return;
      }
    }
    new_last = first - 1 + ready.entries.size();
  }
  // The entry at index i (base < i <= new_last) on disk once this Ready is written.
  auto written = [&](Index i) -> const Entry& {
    return i >= first ? ready.entries[i - first] : disk.at(i);
  };

  // What was persisted as committed must survive the write unchanged.
  if (!ready.snapshot) {
    const Index kept = std::min<Index>(disk.hard_state.commit, disk.last_index());
    for (Index i = std::max(first, disk.snapshot_index + 1); i <= kept; ++i) {
      const Entry& old = disk.at(i);
      if (i > new_last || !(written(i) == old)) {
        fail(ViolationKind::kCommittedEntryLost,
             name + " overwrites persisted committed entry " + describe_entry(old) +
                 " (persisted commit " + std::to_string(disk.hard_state.commit) + ") with " +
                 (i > new_last ? std::string("nothing") : describe_entry(written(i))));
        return;
      }
    }
  }

  if (ready.hard_state) {
    const raft::HardState& hs = *ready.hard_state;
    if (hs.term < disk.hard_state.term) {
      fail(ViolationKind::kPersistenceContract, name + " persists term " + std::to_string(hs.term) +
                                                    " after term " +
                                                    std::to_string(disk.hard_state.term));
      return;
    }
    if (hs.commit < disk.hard_state.commit) {
      fail(ViolationKind::kCommitRegressed, name + " persists commit index " +
                                                std::to_string(hs.commit) + " after " +
                                                std::to_string(disk.hard_state.commit));
      return;
    }
    if (hs.commit > new_last) {
      fail(ViolationKind::kPersistenceContract,
           name + " persists commit index " + std::to_string(hs.commit) +
               " beyond its persisted log, which ends at " + std::to_string(new_last));
      return;
    }
    // Entries newly persisted as committed must be the committed ones.
    Index from = std::max(disk.hard_state.commit, base) + 1;
    for (Index i = from; i <= hs.commit && i <= committed_.size(); ++i) {
      const Entry& e = written(i);
      const CommittedRecord& r = committed_[i - 1];
      if (e.term != r.term || entry_data_hash(e) != r.data_hash) {
        fail(ViolationKind::kStateMachineSafety,
             name + " persists commit index " + std::to_string(hs.commit) + " over " +
                 describe_entry(e) + " but the committed entry at that index is " + r.entry);
        return;
      }
    }
  }
}

void InvariantChecker::after_compact(const SimNode& node) {
  if (failed()) return;
  check_snapshot(node, node.core().snapshot(), "compacts its log into a snapshot at");
  after_event(node);
}

void InvariantChecker::after_send(const SimNode& node, const raft::Message& message) {
  if (failed()) return;
  check_durable_before_sent(node, message);
  if (message.type != raft::MessageType::kAppendResponse || message.reject) return;
  NodeTrack& t = track(node);
  // An answer generated in an earlier term may be overtaken by a new leader's truncation
  // before it leaves (it is then stale and harmless: no leader of a later term counts it).
  if (!node.up() || node.core().term() != message.term) return;
  // The answer promises the leader of this term that these entries are durable here.
  if (message.index > node.disk().last_index()) {
    fail(ViolationKind::kAcknowledgedEntryLost,
         node_name(node.id()) + " acknowledges index " + std::to_string(message.index) +
             " in term " + std::to_string(message.term) + " but its persisted log ends at " +
             std::to_string(node.disk().last_index()));
    return;
  }
  if (message.term != t.acked_term) {
    t.acked_term = message.term;
    t.acked_index = 0;
  }
  t.acked_index = std::max(t.acked_index, message.index);
}

void InvariantChecker::check_durable_before_sent(const SimNode& node,
                                                 const raft::Message& message) {
  using raft::MessageType;
  // Pre-vote messages speak of a term nobody has entered yet; everything else is sent in a
  // term that must already be durable, or a restart could take the node back to an older
  // term and let it act twice in the newer one.
  const raft::HardState& hs = node.disk().hard_state;
  const std::string name = node_name(node.id());
  if (message.type != MessageType::kPreVote && message.type != MessageType::kPreVoteResponse &&
      message.term > hs.term) {
    fail(ViolationKind::kPersistenceContract, name + " sends " + describe_message(message) +
                                                  " but its persisted term is " +
                                                  std::to_string(hs.term));
    return;
  }
  // One vote per term, durable before it is granted (§5.2, Figure 2).
  if (message.type == MessageType::kVoteResponse && !message.reject && hs.term == message.term &&
      hs.vote != message.to) {
    fail(ViolationKind::kPersistenceContract,
         name + " grants its vote in term " + std::to_string(message.term) + " to " +
             node_name(message.to) + " but its persisted vote is " +
             (hs.vote == raft::kNoNode ? std::string("none") : node_name(hs.vote)));
  }
}

void InvariantChecker::before_apply(const SimNode& node, const Entry& entry) {
  if (failed()) return;
  const std::string name = node_name(node.id());
  const Index i = entry.index;
  if (i != node.applied_index() + 1) {
    fail(ViolationKind::kApplyOrder, name + " applies " + describe_entry(entry) +
                                         " right after index " +
                                         std::to_string(node.applied_index()));
    return;
  }
  if (i > committed_.size()) {
    fail(ViolationKind::kStateMachineSafety,
         name + " applies " + describe_entry(entry) + " which no node has committed (" +
             std::to_string(committed_.size()) + " entries are)");
    return;
  }
  const uint64_t hash = entry_data_hash(entry);
  const CommittedRecord& c = committed_[i - 1];
  if (c.term != entry.term || c.data_hash != hash) {
    fail(ViolationKind::kStateMachineSafety, name + " applies " + describe_entry(entry) +
                                                 " but the committed entry at that index is " +
                                                 c.entry);
    return;
  }
  if (i <= applied_.size()) {
    const AppliedRecord& a = applied_[i - 1];
    if (a.term != entry.term || a.data_hash != hash) {
      fail(ViolationKind::kStateMachineSafety, name + " applies " + describe_entry(entry) +
                                                   " but " + node_name(a.node) + " applied " +
                                                   a.entry + " at that index");
    }
  } else if (i == applied_.size() + 1) {
    applied_.push_back({entry.term, hash, describe_entry(entry), node.id()});
  }
}

void InvariantChecker::full_check() {
  for (const SimNode& node : nodes_) {
    if (failed()) return;
    if (node.up()) {
      check_election_safety(node);
      sync_log(node, 1);
      check_commit(node);
      check_leader(node);
      continue;
    }
    // A crashed node: what it will restart from must agree with the committed record.
    const SimDisk& disk = node.disk();
    if (disk.hard_state.commit > disk.last_index()) {
      fail(ViolationKind::kPersistenceContract, node_name(node.id()) + " persisted commit index " +
                                                    std::to_string(disk.hard_state.commit) +
                                                    " beyond its persisted log, which ends at " +
                                                    std::to_string(disk.last_index()));
      return;
    }
    Index from = disk.snapshot_index + 1;
    for (Index i = from; i <= disk.hard_state.commit && i <= committed_.size(); ++i) {
      const Entry& e = disk.at(i);
      const CommittedRecord& r = committed_[i - 1];
      if (e.term != r.term || entry_data_hash(e) != r.data_hash) {
        fail(ViolationKind::kCommittedEntryLost,
             node_name(node.id()) + "'s disk holds " + describe_entry(e) +
                 " below its persisted commit index but the committed entry is " + r.entry);
        return;
      }
    }
  }
}

}  // namespace nomad::sim
