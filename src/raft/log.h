#pragma once

// The in-memory view of a node's Raft log. Entries [first_index(), last_index()] are held
// here; everything at or below the snapshot point has been compacted away. The log also
// tracks cursors that only move forward in normal operation (a conflicting suffix cut by a
// new leader takes the last two back to the cut):
//   applied <= committed <= last_index(), and
//   stable (durable, as the application reported) <= handed (given to storage) <= last_index().

#include <deque>
#include <optional>
#include <vector>

#include "raft/types.h"

namespace nomad::raft {

class RaftLog {
 public:
  // A log that starts after a snapshot covering [1, snapshot_index] with snapshot_term.
  explicit RaftLog(Index snapshot_index = 0, Term snapshot_term = 0);

  Index first_index() const { return snapshot_index_ + 1; }
  Index last_index() const { return snapshot_index_ + entries_.size(); }
  Term last_term() const;
  Index snapshot_index() const { return snapshot_index_; }

  // The term of the entry at `index`; the snapshot's term at snapshot_index(); nullopt when
  // the index was compacted away or lies beyond the end of the log.
  std::optional<Term> term_at(Index index) const;
  bool matches(Index index, Term term) const;

  const Entry& at(Index index) const;  // first_index() <= index <= last_index()

  // Copies of entries [lo, hi], at most max_count of them.
  std::vector<Entry> slice(Index lo, Index hi, size_t max_count) const;

  // The Raft up-to-date rule (§5.4.1): a log whose last entry has a later term is more up to
  // date; with equal last terms, the longer log is.
  bool is_up_to_date(Index last_index, Term last_term) const;

  // Appends entries that extend the log (the leader's own proposals, restored entries).
  void append(std::vector<Entry> entries);

  // The follower side of AppendEntries, after the consistency check has passed: entries that
  // already match are kept, the log is cut only at the first entry whose term differs (so a
  // stale or reordered message can never delete matching entries), then the rest is appended.
  // Returns the index of the first truncated entry, or nullopt when nothing was cut.
  std::optional<Index> merge(const std::vector<Entry>& entries);

  // The index of the first entry whose term differs from ours at that index, without
  // changing anything; nullopt if every entry either matches or extends the log.
  std::optional<Index> find_conflict(const std::vector<Entry>& entries) const;

  // Drops every entry after `index` regardless of terms. Only the planted-bug switch of the
  // simulation uses it: a correct follower never truncates without a conflict.
  void truncate_after(Index index);

  // First index holding `term` at or below `from` scanning backwards over entries of that
  // same term: the conflict hint a follower sends.
  Index first_index_of_term_at(Index from) const;
  // Last index whose term is `term`, or nullopt if the log has no entry of that term.
  std::optional<Index> last_index_of_term(Term term) const;

  Index committed() const { return committed_; }
  Index applied() const { return applied_; }
  Index stable() const { return stable_; }
  Index handed() const { return handed_; }

  // Discards entries up to `index` (<= applied), now covered by a snapshot.
  void compact(Index index);
  // Replaces the whole log with a snapshot received from the leader: the log then starts right
  // after `index`, which counts as committed, applied and stable.
  void reset_to_snapshot(Index index, Term term);

  void commit_to(Index index);  // never moves backwards
  void applied_to(Index index);
  void stable_to(Index index);  // never beyond handed()
  void handed_to(Index index);
  // A write failed: what was handed out and not durable must be handed out again.
  void unhand_to_stable() { handed_ = stable_; }
  // Restore cursors after a restart (everything restored is already on disk).
  void restore_cursors(Index committed, Index applied);

 private:
  Index snapshot_index_;
  Term snapshot_term_;
  std::deque<Entry> entries_;  // entries_[0] has index snapshot_index_ + 1
  Index committed_;
  Index applied_;
  Index stable_;
  Index handed_;
};

}  // namespace nomad::raft
