#pragma once

// The store's jobs in submission order, cut into segments of kSegmentSpan submission indexes.
// A segment is the unit an image shares with the store and the unit whose snapshot encoding
// is kept: taking an image copies one pointer per segment, not one per job, and a snapshot
// encodes again only the segments changed since the last one (the rest are copied as bytes).
// So neither cost on the loop thread nor the encoding work grows with the jobs that did not
// change. Loop thread only, except JobSegment::encoded(), which any thread may call on a
// segment it shares.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "proto/nomad_lite.pb.h"

namespace nomad::jobs {

using JobPtr = std::shared_ptr<const nomad_lite::Job>;

class JobSegment {
 public:
  JobSegment() = default;
  // A copy takes the jobs, not the encoding: it is made to be changed.
  JobSegment(const JobSegment& other) : jobs_(other.jobs_) {}
  JobSegment& operator=(const JobSegment&) = delete;

  // (submission index, job), ascending.
  const std::vector<std::pair<uint64_t, JobPtr>>& jobs() const { return jobs_; }

  // The jobs as JobStoreSnapshot field-1 records, made on first use and kept until the
  // segment changes. Thread-safe.
  const std::string& encoded() const;

 private:
  friend class JobSegments;
  std::vector<std::pair<uint64_t, JobPtr>> jobs_;
  mutable std::mutex encode_mu_;
  mutable std::shared_ptr<const std::string> encoded_;
};

using SegmentPtr = std::shared_ptr<const JobSegment>;

class JobSegments {
 public:
  // Submission indexes [k * kSegmentSpan, (k + 1) * kSegmentSpan) share segment k.
  static constexpr uint64_t kSegmentSpan = 1024;

  // Stores `job` at its submission index, replacing the job there.
  void put(JobPtr job);
  void erase(uint64_t submit_index);
  void clear() { segments_.clear(); }

  // The segments, oldest first: what an image holds.
  std::vector<SegmentPtr> share() const;

  // Every job, newest submission first, until `visit` returns false.
  template <class Visit>
  void for_each_newest_first(Visit&& visit) const {
    for (auto s = segments_.rbegin(); s != segments_.rend(); ++s) {
      const auto& jobs = s->second->jobs_;
      for (auto j = jobs.rbegin(); j != jobs.rend(); ++j) {
        if (!visit(j->first, *j->second)) return;
      }
    }
  }

 private:
  // The segment of `submit_index`, made private to the store first if an image shares it;
  // its kept encoding is dropped, since the caller is about to change it.
  JobSegment& writable(uint64_t submit_index);

  std::map<uint64_t, std::shared_ptr<JobSegment>> segments_;  // by submit_index / kSegmentSpan
};

}  // namespace nomad::jobs
