// Images of the job store share its segments (copy on write) and reuse each unchanged
// segment's encoding, so a snapshot costs the loop one pointer per segment and re-encodes
// only what changed; the bytes stay those of the whole store in submission order.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "jobs/job_store.h"
#include "support/job_commands.h"

namespace nomad::jobs {
namespace {

using namespace nomad::jobs::testing;  // NOLINT

constexpr size_t kSpan = JobSegments::kSegmentSpan;

std::string id_of(size_t i) { return "job-" + std::to_string(i); }

// `n` submissions at log indexes 1..n: about n / kSpan segments.
Replica with_jobs(size_t n) {
  Replica r;
  for (size_t i = 1; i <= n; ++i) r.apply(submit_cmd(id_of(i)));
  return r;
}

// The reference encoding: the store's jobs in submission order, copied into one message.
nomad_lite::JobStoreSnapshot reference(const JobStore& store) {
  nomad_lite::JobStoreSnapshot snap;
  ListQuery all;
  all.limit = SIZE_MAX;
  auto page = store.list(all);
  for (auto it = page.jobs.rbegin(); it != page.jobs.rend(); ++it) *snap.add_jobs() = *it;
  for (const auto& [node, slots] : store.node_slots()) {
    auto* n = snap.add_nodes();
    n->set_node_id(node);
    n->set_slots(slots);
  }
  snap.set_jobs_submitted(store.totals().submitted);
  snap.set_jobs_finished(store.totals().finished);
  return snap;
}

TEST(JobSegments, AnImageCostsOnePointerPerSegment) {
  Replica r = with_jobs(3 * kSpan);
  JobStoreImage image = r.store().image();
  // Indexes 1..3*kSpan fall in segments 0..3.
  ASSERT_EQ(image.segments.size(), 4u);
  size_t jobs = 0;
  uint64_t last = 0;
  for (const auto& segment : image.segments) {
    for (const auto& [index, job] : segment->jobs()) {
      EXPECT_GT(index, last) << "jobs are kept in submission order";
      EXPECT_EQ(index, job->submit_index());
      last = index;
      ++jobs;
    }
  }
  EXPECT_EQ(jobs, 3 * kSpan);
}

TEST(JobSegments, AChangeCopiesOnlyItsSegmentAndTheOthersKeepTheirEncoding) {
  Replica r = with_jobs(3 * kSpan);
  JobStoreImage before = r.store().image();
  const std::string bytes = before.serialize();
  // Job 1 lives in segment 0; every other segment is unchanged.
  r.apply(assign_cmd(id_of(1), 1, 1, 10));
  JobStoreImage after = r.store().image();
  ASSERT_EQ(after.segments.size(), before.segments.size());
  EXPECT_NE(after.segments[0], before.segments[0]);
  for (size_t i = 1; i < after.segments.size(); ++i) {
    EXPECT_EQ(after.segments[i], before.segments[i]) << "segment " << i;
    // The encoding made for the first image is the one the second uses.
    EXPECT_EQ(&after.segments[i]->encoded(), &before.segments[i]->encoded());
  }
  // The earlier image still shows the job as it was.
  EXPECT_EQ(before.segments[0]->jobs().front().second->status(), nomad_lite::JOB_STATUS_PENDING);
  EXPECT_EQ(before.serialize(), bytes);
  EXPECT_NE(after.serialize(), bytes);
}

TEST(JobSegments, ASnapshotParsesAsTheWholeStoreAfterChangesEverywhere) {
  Replica r = with_jobs(3 * kSpan);
  JobStoreImage first = r.store().image();
  first.serialize();  // every segment encoded and kept
  r.apply(slots_cmd({{1, 4}, {2, 4}}));
  r.apply(assign_cmd(id_of(2), 1, 1, 10));
  r.apply(finished_cmd(id_of(2), 1, 1, 20, 0));
  r.apply(cancel_cmd(id_of(kSpan + 5), 30));
  r.apply(cancel_cmd(id_of(2 * kSpan + 7), 30));
  r.apply(remove_cmd({id_of(2), id_of(kSpan + 5)}));
  r.apply(submit_cmd("late"));
  nomad_lite::JobStoreSnapshot parsed;
  ASSERT_TRUE(parsed.ParseFromString(r.store().snapshot()));
  EXPECT_EQ(parsed.SerializeAsString(), reference(r.store()).SerializeAsString());
  // And it restores to the same store.
  JobStore copy;
  ASSERT_TRUE(copy.restore(r.store().snapshot()).is_ok());
  EXPECT_EQ(copy.snapshot(), r.store().snapshot());
  EXPECT_EQ(copy.size(), 3 * kSpan - 1);
}

TEST(JobSegments, ASegmentWhoseJobsAreAllRemovedIsDropped) {
  Replica r = with_jobs(kSpan + 10);  // segment 0: indexes 1..kSpan-1, segment 1: the rest
  std::vector<std::string> first;
  for (size_t i = 1; i < kSpan; ++i) {
    r.apply(cancel_cmd(id_of(i), 5));
    first.push_back(id_of(i));
  }
  r.apply(remove_cmd(first));
  JobStoreImage image = r.store().image();
  ASSERT_EQ(image.segments.size(), 1u);
  EXPECT_EQ(image.segments[0]->jobs().size(), 11u);
  EXPECT_EQ(r.store().size(), 11u);
}

TEST(JobSegments, ListingPagesAcrossSegmentsNewestFirst) {
  Replica r = with_jobs(2 * kSpan + 100);
  std::vector<std::string> seen;
  uint64_t before = 0;
  for (int pages = 0; pages < 10; ++pages) {
    ListQuery query;
    query.limit = 700;
    query.before_submit_index = before;
    ListPage page = r.store().list(query);
    EXPECT_EQ(page.total, 2 * kSpan + 100);
    for (const auto& job : page.jobs) seen.push_back(job.id());
    if (page.next_before == 0) break;
    before = page.next_before;
  }
  ASSERT_EQ(seen.size(), 2 * kSpan + 100);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], id_of(seen.size() - i));
}

TEST(JobSegments, AnImageSerializesOnAnotherThreadWhileTheStoreChanges) {
  Replica r = with_jobs(2 * kSpan);
  JobStoreImage image = r.store().image();
  const std::string expected = r.store().snapshot();
  std::string written;
  std::thread writer([&] { written = image.serialize(); });
  for (size_t i = 1; i <= 2 * kSpan; i += 3) r.apply(cancel_cmd(id_of(i), 40));
  writer.join();
  EXPECT_EQ(written, expected);
  EXPECT_NE(r.store().snapshot(), expected);
}

}  // namespace
}  // namespace nomad::jobs
