#include "raft/log.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace nomad::raft {

namespace {

// A caller broke the log's contract (an index outside it, a gap): a bug, never a data error.
void require(bool condition, const char* what) {
  if (!condition) throw std::logic_error(std::string("raft log: ") + what);
}

}  // namespace

RaftLog::RaftLog(Index snapshot_index, Term snapshot_term)
    : snapshot_index_(snapshot_index),
      snapshot_term_(snapshot_term),
      committed_(snapshot_index),
      applied_(snapshot_index),
      stable_(snapshot_index),
      handed_(snapshot_index) {}

Term RaftLog::last_term() const { return entries_.empty() ? snapshot_term_ : entries_.back().term; }

std::optional<Term> RaftLog::term_at(Index index) const {
  if (index == snapshot_index_) return snapshot_term_;
  if (index < snapshot_index_ || index > last_index()) return std::nullopt;
  return entries_[index - first_index()].term;
}

bool RaftLog::matches(Index index, Term term) const {
  auto t = term_at(index);
  return t && *t == term;
}

const Entry& RaftLog::at(Index index) const {
  require(index >= first_index() && index <= last_index(), "entry index outside the log");
  return entries_[index - first_index()];
}

std::vector<Entry> RaftLog::slice(Index lo, Index hi, size_t max_count) const {
  std::vector<Entry> out;
  lo = std::max(lo, first_index());
  hi = std::min(hi, last_index());
  if (lo > hi) return out;
  size_t count = std::min<size_t>(hi - lo + 1, max_count);
  out.reserve(count);
  auto begin = entries_.begin() + static_cast<std::ptrdiff_t>(lo - first_index());
  out.insert(out.end(), begin, begin + static_cast<std::ptrdiff_t>(count));
  return out;
}

bool RaftLog::is_up_to_date(Index index, Term term) const {
  return term > last_term() || (term == last_term() && index >= last_index());
}

void RaftLog::append(std::vector<Entry> entries) {
  for (auto& e : entries) {
    require(e.index == last_index() + 1, "appended entries do not extend the log");
    entries_.push_back(std::move(e));
  }
}

std::optional<Index> RaftLog::find_conflict(const std::vector<Entry>& entries) const {
  for (const Entry& e : entries) {
    if (e.index > last_index()) return std::nullopt;
    if (e.index < first_index()) continue;  // compacted, hence committed and matching
    if (entries_[e.index - first_index()].term != e.term) return e.index;
  }
  return std::nullopt;
}

std::optional<Index> RaftLog::merge(const std::vector<Entry>& entries) {
  // Entries we already hold with the same term are identical by the Log Matching property;
  // keeping them means a stale message can never delete what a newer one delivered.
  auto conflict = find_conflict(entries);
  if (conflict) truncate_after(*conflict - 1);
  for (const Entry& e : entries) {
    if (e.index == last_index() + 1) entries_.push_back(e);
  }
  return conflict;
}

void RaftLog::truncate_after(Index index) {
  if (index >= last_index() || index < snapshot_index_) return;
  entries_.resize(index - snapshot_index_);
  stable_ = std::min(stable_, index);
  handed_ = std::min(handed_, index);
}

Index RaftLog::first_index_of_term_at(Index from) const {
  auto term = term_at(from);
  if (!term) return from;
  Index i = from;
  while (i > first_index() && entries_[i - 1 - first_index()].term == *term) --i;
  return i;
}

std::optional<Index> RaftLog::last_index_of_term(Term term) const {
  for (Index i = last_index(); i >= first_index() && i > 0; --i) {
    Term t = entries_[i - first_index()].term;
    if (t == term) return i;
    if (t < term) break;  // terms only grow along the log
  }
  if (term == snapshot_term_ && snapshot_index_ > 0) return snapshot_index_;
  return std::nullopt;
}

void RaftLog::compact(Index index) {
  if (index <= snapshot_index_) return;
  require(index <= applied_, "compaction beyond the applied index");
  snapshot_term_ = *term_at(index);
  entries_.erase(entries_.begin(),
                 entries_.begin() + static_cast<std::ptrdiff_t>(index - snapshot_index_));
  snapshot_index_ = index;
}

void RaftLog::reset_to_snapshot(Index index, Term term) {
  entries_.clear();
  snapshot_index_ = index;
  snapshot_term_ = term;
  committed_ = applied_ = stable_ = handed_ = index;
}

void RaftLog::commit_to(Index index) {
  if (index > committed_) {
    require(index <= last_index(), "commit index beyond the log");
    committed_ = index;
  }
}

void RaftLog::applied_to(Index index) {
  require(index <= committed_, "applied index beyond the commit index");
  applied_ = std::max(applied_, index);
}

void RaftLog::stable_to(Index index) { stable_ = std::max(stable_, std::min(index, handed_)); }

void RaftLog::handed_to(Index index) { handed_ = std::max(handed_, std::min(index, last_index())); }

void RaftLog::restore_cursors(Index committed, Index applied) {
  // What the application applied was committed, even if the write of the commit index that
  // said so was lost in the crash (entries are applied once durable, commit indexes lag).
  committed_ = std::min(std::max({committed, applied, snapshot_index_}), last_index());
  applied_ = std::min(std::max(applied, snapshot_index_), committed_);
  stable_ = handed_ = last_index();
}

}  // namespace nomad::raft
