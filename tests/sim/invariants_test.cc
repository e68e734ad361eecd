// The invariants checker reports each kind of violation it claims to detect. States are built
// by writing crafted disks and restarting real cores from them, so every check is exercised
// without needing a buggy core (the planted-bug tests cover the end-to-end path).

#include "invariants.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "raft/core.h"
#include "sim_node.h"
#include "state_machine.h"

namespace nomad::sim {
namespace {

using raft::Entry;
using raft::HardState;
using raft::NodeId;

raft::Config config(NodeId id, std::vector<NodeId> voters) {
  raft::Config c;
  c.id = id;
  c.voters = std::move(voters);
  return c;
}

Entry entry(raft::Index index, raft::Term term, std::string data) {
  return Entry{term, index, raft::EntryType::kNormal, std::move(data)};
}

// Writes straight to the node's disk, bypassing the checker, as a buggy core would have.
void write_disk(SimNode& node, std::vector<Entry> entries, HardState hard_state) {
  raft::Ready ready;
  ready.entries = std::move(entries);
  ready.hard_state = hard_state;
  node.persist(ready);
}

// A cluster of `count` nodes; a node listed in `alone` is its own single-voter cluster, so
// it elects itself on its first timeout.
std::vector<SimNode> cluster(size_t count, std::vector<NodeId> alone = {}) {
  std::vector<NodeId> voters;
  for (NodeId id = 1; id <= count; ++id) voters.push_back(id);
  std::vector<SimNode> nodes;
  nodes.reserve(count);
  for (NodeId id = 1; id <= count; ++id) {
    bool single = std::find(alone.begin(), alone.end(), id) != alone.end();
    nodes.emplace_back(config(id, single ? std::vector<NodeId>{id} : voters), 0);
  }
  return nodes;
}

void become_leader(SimNode& node) {
  for (int i = 0; i < 100 && node.core().role() != raft::Role::kLeader; ++i) node.core().tick();
  ASSERT_EQ(node.core().role(), raft::Role::kLeader);
}

ViolationKind kind_of(const InvariantChecker& checker) {
  EXPECT_TRUE(checker.failed());
  return checker.failed() ? checker.violation()->kind : ViolationKind::kLiveness;
}

TEST(Checker, ReportsTwoLeadersOfOneTermAsElectionSafety) {
  std::vector<SimNode> nodes = cluster(2, {1, 2});
  InvariantChecker checker(nodes);
  for (SimNode& n : nodes) {
    n.start(1);
    checker.after_start(n);
    become_leader(n);
    checker.after_event(n);
  }
  EXPECT_EQ(kind_of(checker), ViolationKind::kElectionSafety);
}

TEST(Checker, ReportsLogsSharingAnEntryButNotItsPrefixAsLogMatching) {
  std::vector<SimNode> nodes = cluster(2);
  write_disk(nodes[0], {entry(1, 1, "a"), entry(2, 2, "b")}, {2, 1, 0});
  write_disk(nodes[1], {entry(1, 1, "x"), entry(2, 2, "b")}, {2, 1, 0});
  InvariantChecker checker(nodes);
  nodes[0].start(1);
  checker.after_start(nodes[0]);
  EXPECT_FALSE(checker.failed());
  nodes[1].start(1);
  checker.after_start(nodes[1]);
  EXPECT_EQ(kind_of(checker), ViolationKind::kLogMatching);
}

TEST(Checker, ReportsTwoNodesCommittingDifferentEntriesAsStateMachineSafety) {
  std::vector<SimNode> nodes = cluster(2);
  write_disk(nodes[0], {entry(1, 1, "a")}, {1, 1, 1});
  write_disk(nodes[1], {entry(1, 2, "b")}, {2, 2, 1});
  InvariantChecker checker(nodes);
  for (SimNode& n : nodes) {
    n.start(1);
    checker.after_start(n);
  }
  EXPECT_EQ(kind_of(checker), ViolationKind::kStateMachineSafety);
}

TEST(Checker, ReportsALaterLeaderWithoutACommittedEntryAsLeaderCompleteness) {
  std::vector<SimNode> nodes = cluster(2, {2});
  write_disk(nodes[0], {entry(1, 1, "a")}, {1, 1, 1});
  write_disk(nodes[1], {}, {3, 0, 0});
  InvariantChecker checker(nodes);
  for (SimNode& n : nodes) {
    n.start(1);
    checker.after_start(n);
  }
  EXPECT_FALSE(checker.failed());
  become_leader(nodes[1]);  // term 4, and its log never had 1@1
  checker.after_event(nodes[1]);
  EXPECT_EQ(kind_of(checker), ViolationKind::kLeaderCompleteness);
}

TEST(Checker, ReportsAWriteOverACommittedEntryAsCommittedEntryLost) {
  std::vector<SimNode> nodes = cluster(1);
  write_disk(nodes[0], {entry(1, 1, "a"), entry(2, 1, "b")}, {1, 1, 2});
  InvariantChecker checker(nodes);
  nodes[0].start(1);
  checker.after_start(nodes[0]);
  raft::Ready overwrite;
  overwrite.entries = {entry(2, 2, "c")};
  checker.before_persist(nodes[0], overwrite);
  EXPECT_EQ(kind_of(checker), ViolationKind::kCommittedEntryLost);
}

TEST(Checker, ReportsARestartBelowThePersistedCommitIndexAsCommitRegressed) {
  std::vector<SimNode> nodes = cluster(1);
  // A commit index beyond the persisted log: the restored core can only commit what it has.
  write_disk(nodes[0], {entry(1, 1, "a")}, {1, 1, 2});
  InvariantChecker checker(nodes);
  nodes[0].start(1);
  checker.after_start(nodes[0]);
  EXPECT_EQ(kind_of(checker), ViolationKind::kCommitRegressed);
}

TEST(Checker, ReportsApplyingTwiceAsApplyOrder) {
  std::vector<SimNode> nodes = cluster(1);
  write_disk(nodes[0], {entry(1, 1, "a"), entry(2, 1, "b")}, {1, 1, 2});
  InvariantChecker checker(nodes);
  nodes[0].start(1);
  checker.after_start(nodes[0]);
  checker.before_apply(nodes[0], entry(1, 1, "a"));
  nodes[0].apply(entry(1, 1, "a"));
  EXPECT_FALSE(checker.failed());
  checker.before_apply(nodes[0], entry(1, 1, "a"));
  EXPECT_EQ(kind_of(checker), ViolationKind::kApplyOrder);
}

TEST(Checker, ReportsApplyingAnUncommittedEntryAsStateMachineSafety) {
  std::vector<SimNode> nodes = cluster(1);
  write_disk(nodes[0], {entry(1, 1, "a")}, {1, 1, 0});
  InvariantChecker checker(nodes);
  nodes[0].start(1);
  checker.after_start(nodes[0]);
  checker.before_apply(nodes[0], entry(1, 1, "a"));
  EXPECT_EQ(kind_of(checker), ViolationKind::kStateMachineSafety);
}

TEST(Checker, ReportsASnapshotThatIsNotTheCommittedPrefixAsStateMachineSafety) {
  std::vector<SimNode> nodes = cluster(2);
  write_disk(nodes[0], {entry(1, 1, "a"), entry(2, 1, "b")}, {1, 1, 2});
  InvariantChecker checker(nodes);
  nodes[0].start(1);
  checker.after_start(nodes[0]);

  StateMachine right;
  right.apply(entry(1, 1, "a"));
  right.apply(entry(2, 1, "b"));
  StateMachine wrong;
  wrong.apply(entry(1, 1, "a"));
  wrong.apply(entry(2, 1, "x"));
  raft::Ready install;
  install.snapshot = raft::Snapshot{2, 1, std::make_shared<const std::string>(right.snapshot(5))};
  checker.before_persist(nodes[1], install);
  EXPECT_FALSE(checker.failed());
  install.snapshot->data = std::make_shared<const std::string>(wrong.snapshot(5));
  checker.before_persist(nodes[1], install);
  EXPECT_EQ(kind_of(checker), ViolationKind::kStateMachineSafety);
}

TEST(Checker, ReportsAVoteGrantedBeforeItIsDurableAsPersistenceContract) {
  std::vector<SimNode> nodes = cluster(3);
  write_disk(nodes[0], {}, {2, 0, 0});  // term 2 on disk, no vote yet
  InvariantChecker checker(nodes);
  nodes[0].start(1);
  checker.after_start(nodes[0]);
  raft::Message grant{.type = raft::MessageType::kVoteResponse, .from = 1, .to = 3, .term = 2};
  checker.after_send(nodes[0], grant);
  EXPECT_EQ(kind_of(checker), ViolationKind::kPersistenceContract);
}

TEST(Checker, ReportsAcknowledgingEntriesNotOnDiskAsAcknowledgedEntryLost) {
  std::vector<SimNode> nodes = cluster(2);
  write_disk(nodes[0], {entry(1, 1, "a")}, {1, 2, 0});
  InvariantChecker checker(nodes);
  nodes[0].start(1);
  checker.after_start(nodes[0]);
  raft::Message ack{
      .type = raft::MessageType::kAppendResponse, .from = 1, .to = 2, .term = 1, .index = 1};
  checker.after_send(nodes[0], ack);
  EXPECT_FALSE(checker.failed());
  ack.index = 3;
  checker.after_send(nodes[0], ack);
  EXPECT_EQ(kind_of(checker), ViolationKind::kAcknowledgedEntryLost);
}

}  // namespace
}  // namespace nomad::sim
