// The simulation's checker must catch real protocol bugs, not just pass clean runs: each
// planted bug in raft::PlantedBugs is switched on and the simulation must report the
// invariant that bug breaks within a bounded number of seeds. A clean run must report nothing,
// and a seed must replay identically.

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "invariants.h"
#include "simulation.h"

namespace nomad::sim {
namespace {

constexpr uint64_t kMaxSeeds = 500;

// Runs seeds 1, 2, ... (3 and 5 nodes alternating) with `bug` on every node until one reports
// a violation; returns that run, or the last clean one.
SimResult first_violation(const std::string& bug, std::optional<FaultProfile> profile = {}) {
  SimResult last;
  for (uint64_t seed = 1; seed <= kMaxSeeds; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.nodes = default_node_count(seed);
    options.bugs = *planted_bug(bug);
    options.profile = profile;
    last = run_simulation(options);
    if (!last.ok()) return last;
  }
  return last;
}

std::string describe(const SimResult& r) {
  if (r.ok()) return "no violation (last seed " + std::to_string(r.seed) + ")";
  return std::string(violation_kind_name(r.violation->kind)) + " in seed " +
         std::to_string(r.seed) + " (" + std::to_string(r.nodes) +
         " nodes): " + r.violation->details;
}

void expect_caught_as(const std::string& bug, const std::set<ViolationKind>& expected,
                      std::optional<FaultProfile> profile = {}) {
  SimResult r = first_violation(bug, profile);
  ASSERT_FALSE(r.ok()) << bug << " went unnoticed for " << kMaxSeeds << " seeds";
  EXPECT_TRUE(expected.count(r.violation->kind)) << bug << " caught as " << describe(r);
}

TEST(PlantedBugs, GrantSecondVoteIsCaughtAsTwoLeadersInOneTerm) {
  // The second vote contradicts the one on disk: a seed may show that first, before the second
  // leader it makes possible is elected (one in sixty does).
  expect_caught_as("grant_second_vote",
                   {ViolationKind::kElectionSafety, ViolationKind::kPersistenceContract});
}

TEST(PlantedBugs, CommitPreviousTermByCountIsCaughtAsALeaderMissingACommittedEntry) {
  // The paper's Figure 8: a leader counts replicas of an entry from an earlier term before
  // its own no-op is on a majority, calls it committed, and is cut off; a node holding a
  // conflicting entry of a later term then wins and would overwrite it. The leader-churn
  // profile (new leaders struck down, one entry per append) builds those tails on purpose;
  // the default mix only gets there in about one seed in thirty.
  expect_caught_as("commit_previous_term_by_count",
                   {ViolationKind::kLeaderCompleteness, ViolationKind::kCommittedEntryLost,
                    ViolationKind::kStateMachineSafety},
                   FaultProfile::kLeaderChurn);
}

TEST(PlantedBugs, TruncateOnStaleAppendIsCaughtAsAnAcknowledgedEntryLost) {
  // A delayed or duplicated AppendEntries with an old prev index cuts entries the follower
  // already acknowledged to this term's leader, which may have counted them toward a commit.
  expect_caught_as("truncate_on_stale_append", {ViolationKind::kAcknowledgedEntryLost});
}

TEST(PlantedBugs, CountOwnUnsyncedEntriesIsCaughtAsACommitNotDurable) {
  // A leader that counts its own copy while its write is still queued commits an entry one
  // follower holds: a majority in memory, a minority on disk. Writes complete late in the
  // simulation (slow syncs, group commits), so an acknowledgement often beats the leader's
  // own sync.
  expect_caught_as("count_own_unsynced_entries", {ViolationKind::kCommitNotDurable});
}

TEST(PlantedBugs, SendVoteBeforeDurableIsCaughtAsAPersistenceContractBreach) {
  // A vote granted before the term and vote are on disk could be cast again, for another
  // candidate, after a crash (§5.2). The checker compares every message with the disk at
  // the moment it leaves.
  expect_caught_as("send_vote_before_durable", {ViolationKind::kPersistenceContract});
}

TEST(PlantedBugs, ConcurrentConfChangesAreCaughtAsTwoChangesInFlight) {
  // A leader that appends a second configuration entry before the first committed lets two
  // configurations whose majorities need not overlap act at once (thesis §4.1). The
  // simulation sometimes proposes a second change right behind the first.
  expect_caught_as("concurrent_conf_changes", {ViolationKind::kMembershipChange});
}

TEST(PlantedBugs, CountLearnersInQuorumIsCaughtAsACommitNotDurable) {
  // A learner's copy counted toward a commit: the entry is then held by fewer than a majority
  // of the voters, which a later leader elected without them would not have.
  expect_caught_as("count_learners_in_quorum", {ViolationKind::kCommitNotDurable});
}

TEST(CleanRun, FiftySeedsOfThreeAndFiveNodesReportNoViolation) {
  uint64_t changes = 0;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.nodes = default_node_count(seed);
    SimResult r = run_simulation(options);
    EXPECT_TRUE(r.ok()) << describe(r);
    // A run that commits nothing proves nothing: the scenario must let clients through.
    EXPECT_GT(r.stats.clients.acked, 0u) << "seed " << seed;
    changes += r.stats.conf_changes;
  }
  // The membership changes must happen, not just be attempted.
  EXPECT_GT(changes, 100u);
}

TEST(CleanRun, SameSeedReplaysTheSameTrace) {
  auto trace_of = [](uint64_t seed) {
    std::ostringstream out;
    SimOptions options;
    options.seed = seed;
    options.nodes = 5;
    options.trace = &out;
    run_simulation(options);
    return out.str();
  };
  std::string first = trace_of(7);
  EXPECT_GT(first.size(), 10000u);
  EXPECT_EQ(first, trace_of(7));
  EXPECT_NE(first, trace_of(8));
}

}  // namespace
}  // namespace nomad::sim
