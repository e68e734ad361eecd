// RaftLog on its own: the queries the election and replication rules are built on.

#include "raft/log.h"

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::entries_with_terms;

RaftLog log_with_terms(const std::vector<Term>& terms) {
  RaftLog log;
  log.append(entries_with_terms(terms));
  return log;
}

std::vector<Term> terms_of(const RaftLog& log) {
  std::vector<Term> out;
  for (Index i = log.first_index(); i <= log.last_index(); ++i) out.push_back(log.at(i).term);
  return out;
}

// The consistency check of AppendEntries asks "does the log hold prevLogIndex with
// prevLogTerm?"; index 0 (the empty prefix) always matches with term 0.
TEST(RaftLogTest, TermAtAndMatchesAnswerTheConsistencyCheck) {
  RaftLog log = log_with_terms({1, 1, 2});
  EXPECT_EQ(log.term_at(0), Term{0});
  EXPECT_EQ(log.term_at(1), Term{1});
  EXPECT_EQ(log.term_at(3), Term{2});
  EXPECT_EQ(log.term_at(4), std::nullopt);
  EXPECT_TRUE(log.matches(0, 0));
  EXPECT_TRUE(log.matches(3, 2));
  EXPECT_FALSE(log.matches(3, 1));
  EXPECT_FALSE(log.matches(4, 2));
  EXPECT_EQ(log.last_index(), 3u);
  EXPECT_EQ(log.last_term(), 2u);

  // After a snapshot at 5 (term 3): the snapshot point keeps its term, older indexes are gone.
  RaftLog compacted(5, 3);
  compacted.append(entries_with_terms({3, 4}, 6));
  EXPECT_EQ(compacted.term_at(5), Term{3});
  EXPECT_EQ(compacted.term_at(4), std::nullopt);
  EXPECT_EQ(compacted.term_at(7), Term{4});
  EXPECT_TRUE(compacted.matches(5, 3));
  EXPECT_FALSE(compacted.matches(4, 3));
}

// §5.4.1: "If the logs have last entries with different terms, then the log with the later
// term is more up-to-date. If the logs end with the same term, then whichever log is longer
// is more up-to-date."
TEST(RaftLogTest, IsUpToDateComparesLastTermThenLength) {
  RaftLog log = log_with_terms({1, 2, 2});  // last (3, t2)
  EXPECT_TRUE(log.is_up_to_date(3, 2));     // identical
  EXPECT_TRUE(log.is_up_to_date(4, 2));     // same term, longer
  EXPECT_FALSE(log.is_up_to_date(2, 2));    // same term, shorter
  EXPECT_TRUE(log.is_up_to_date(1, 3));     // later term wins even when much shorter
  EXPECT_FALSE(log.is_up_to_date(10, 1));   // earlier term loses even when much longer
  EXPECT_TRUE(RaftLog().is_up_to_date(0, 0));
}

// Figure 2, AppendEntries 3: "If an existing entry conflicts with a new one (same index but
// different terms), delete the existing entry and all that follow it." Only then.
TEST(RaftLogTest, MergeTruncatesOnlyAtTheFirstRealConflict) {
  RaftLog log = log_with_terms({1, 1, 2, 2});
  log.stable_to(4);
  EXPECT_EQ(log.stable(), 0u) << "durable before it was handed to storage";
  log.handed_to(4);
  log.stable_to(4);

  // Entries it already holds: nothing is cut, nothing is lost.
  EXPECT_EQ(log.merge(entries_with_terms({1, 2}, 2)), std::nullopt);
  EXPECT_EQ(terms_of(log), (std::vector<Term>{1, 1, 2, 2}));
  EXPECT_EQ(log.stable(), 4u);

  // Matching prefix, then new entries: appended, nothing cut.
  EXPECT_EQ(log.merge(entries_with_terms({2, 2, 2}, 3)), std::nullopt);
  EXPECT_EQ(terms_of(log), (std::vector<Term>{1, 1, 2, 2, 2}));

  // A conflict at 4: everything from 4 on is replaced; what precedes it stays, and the
  // stable cursor falls back so the replacement gets persisted.
  EXPECT_EQ(log.merge(entries_with_terms({2, 3, 3}, 3)), Index{4});
  EXPECT_EQ(terms_of(log), (std::vector<Term>{1, 1, 2, 3, 3}));
  EXPECT_EQ(log.stable(), 3u);
  EXPECT_EQ(log.handed(), 3u);
  EXPECT_EQ(log.at(4).data, "e4");
}

// A stale or reordered AppendEntries carries a prefix of what the follower already holds; by
// the Log Matching property those entries are identical, and cutting after them would lose
// entries the leader may already count as replicated.
TEST(RaftLogTest, MergeOfStaleSubsetNeverDeletesMatchingEntries) {
  RaftLog log = log_with_terms({1, 1, 1, 1, 1});
  EXPECT_EQ(log.merge(entries_with_terms({1}, 1)), std::nullopt);
  EXPECT_EQ(log.merge(entries_with_terms({1, 1}, 2)), std::nullopt);
  EXPECT_EQ(log.merge({}), std::nullopt);
  EXPECT_EQ(log.last_index(), 5u);
}

// The follower's fast-backtracking hint: the first index of the term found at the probed
// index, so the leader can skip the whole term in one round trip.
TEST(RaftLogTest, FirstIndexOfTermAtFindsTheStartOfThatTerm) {
  RaftLog log = log_with_terms({1, 1, 2, 2, 2, 3});
  EXPECT_EQ(log.first_index_of_term_at(5), 3u);
  EXPECT_EQ(log.first_index_of_term_at(3), 3u);
  EXPECT_EQ(log.first_index_of_term_at(2), 1u);
  EXPECT_EQ(log.first_index_of_term_at(6), 6u);

  // Never below the compaction point, even if the term started earlier.
  RaftLog compacted(5, 2);
  compacted.append(entries_with_terms({2, 2}, 6));
  EXPECT_EQ(compacted.first_index_of_term_at(7), 6u);
}

// The leader's side of fast backtracking: where its own log holds the follower's conflicting
// term last, if at all.
TEST(RaftLogTest, LastIndexOfTermFindsTheEndOfThatTerm) {
  RaftLog log = log_with_terms({1, 1, 2, 2, 2, 4});
  EXPECT_EQ(log.last_index_of_term(1), Index{2});
  EXPECT_EQ(log.last_index_of_term(2), Index{5});
  EXPECT_EQ(log.last_index_of_term(4), Index{6});
  EXPECT_EQ(log.last_index_of_term(3), std::nullopt);
  EXPECT_EQ(log.last_index_of_term(5), std::nullopt);
}

// Figure 2 (all servers): commitIndex only increases; a late, lower leaderCommit must not
// un-commit anything.
TEST(RaftLogTest, CommitToNeverMovesBackwards) {
  RaftLog log = log_with_terms({1, 1, 1});
  log.commit_to(2);
  EXPECT_EQ(log.committed(), 2u);
  log.commit_to(1);
  EXPECT_EQ(log.committed(), 2u);
  log.commit_to(3);
  EXPECT_EQ(log.committed(), 3u);
}

TEST(RaftLogTest, SliceIsClampedToTheLogAndToMaxCount) {
  RaftLog log = log_with_terms({1, 1, 2, 2, 3});
  auto s = log.slice(2, 4, 100);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.front().index, 2u);
  EXPECT_EQ(s.back().index, 4u);

  s = log.slice(2, 5, 2);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.back().index, 3u);

  s = log.slice(0, 100, 100);  // clamped to [first_index, last_index]
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s.front().index, 1u);

  EXPECT_TRUE(log.slice(4, 3, 100).empty());
  EXPECT_TRUE(log.slice(6, 9, 100).empty());
}

}  // namespace
}  // namespace nomad::raft
