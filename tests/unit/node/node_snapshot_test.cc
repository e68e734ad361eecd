// The log is compacted only once the snapshot that covers it is durable.

#include <gtest/gtest.h>

#include <atomic>

#include "in_process_cluster.h"

namespace nomad::node::testing {
namespace {

constexpr uint64_t kSnapshotEvery = 4;

void tune(ServerConfig& c) { c.snapshot_entries = kSnapshotEvery; }

// Submits `count` jobs through the leader, each answered before the next.
void submit_jobs(Node& leader, int first, int count) {
  for (int i = first; i < first + count; ++i) {
    auto answer = propose(leader, submit_command("job-" + std::to_string(i)));
    ASSERT_TRUE(answered(answer));
    ASSERT_EQ(answer.get().code, ProposeOutcome::Code::kApplied);
  }
}

TEST(NodeSnapshot, AFailedSnapshotReleasesNoLog) {
  InProcessCluster cluster(1, tune);
  cluster.snapshots(1).fail_saves(true);
  cluster.start_all();
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  submit_jobs(cluster.node(1), 0, 3 * kSnapshotEvery);
  ASSERT_TRUE(eventually([&] { return cluster.snapshots(1).attempts() >= 1; }))
      << "a snapshot was due";
  // The node reports the failure back to its loop; give it the chance to act on it wrongly.
  submit_jobs(cluster.node(1), 100, kSnapshotEvery);
  EXPECT_EQ(cluster.log(1).released_to(), 0u) << "the log was released without a snapshot";
  EXPECT_EQ(cluster.snapshots(1).durable_index(), 0u);
}

TEST(NodeSnapshot, TheLogIsReleasedOnlyOnceTheSnapshotIsDurable) {
  std::atomic<bool> released_before_durable{false};
  InProcessCluster cluster(1, tune);
  MemorySnapshots& snapshots = cluster.snapshots(1);
  cluster.log(1).on_release([&](raft::Index index) {
    if (snapshots.durable_index() < index) released_before_durable = true;
  });
  snapshots.hold_saves();
  cluster.start_all();
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  submit_jobs(cluster.node(1), 0, 3 * kSnapshotEvery);
  ASSERT_TRUE(eventually([&] { return snapshots.attempts() >= 1; })) << "a snapshot was due";
  // The save is slow: the loop goes on committing meanwhile, and releases nothing.
  submit_jobs(cluster.node(1), 100, kSnapshotEvery);
  EXPECT_EQ(cluster.log(1).released_to(), 0u);

  snapshots.release_saves();
  ASSERT_TRUE(eventually([&] { return cluster.log(1).released_to() > 0; }))
      << "the log is released once the snapshot is durable";
  EXPECT_LE(cluster.log(1).released_to(), snapshots.durable_index());
  EXPECT_FALSE(released_before_durable);
  cluster.stop(1);
  cluster.log(1).on_release({});
}

TEST(NodeSnapshot, ARestartFromACompactedLogRecoversEveryJob) {
  InProcessCluster cluster(1, tune);
  cluster.start_all();
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  submit_jobs(cluster.node(1), 0, 5 * kSnapshotEvery);
  ASSERT_TRUE(eventually([&] { return cluster.log(1).released_to() > 0; }));
  cluster.crash(1);
  cluster.start(1);
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  // The last entries may be committed only by the restarted leader's first round (a commit
  // index alone is not made durable): every acknowledged job is back once it has applied.
  size_t found = 0;
  EXPECT_TRUE(eventually([&] {
    found = cluster.node(1).read_jobs([](const jobs::JobStore& s) {
      size_t n = 0;
      for (int i = 0; i < static_cast<int>(5 * kSnapshotEvery); ++i) {
        n += s.find("job-" + std::to_string(i)) != nullptr;
      }
      return n;
    });
    return found == 5 * kSnapshotEvery;
  })) << found
      << " of " << 5 * kSnapshotEvery << " jobs after the restart";
}

}  // namespace
}  // namespace nomad::node::testing
