#include "jobs/job_segments.h"

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <atomic>

namespace nomad::jobs {

const std::string& JobSegment::encoded() const {
  std::lock_guard lock(encode_mu_);
  if (encoded_) return *encoded_;
  using google::protobuf::io::CodedOutputStream;
  constexpr uint32_t kJobsTag = (1 << 3) | 2;  // JobStoreSnapshot.jobs: field 1, length-delimited
  std::vector<size_t> sizes;
  sizes.reserve(jobs_.size());
  size_t total = 0;
  for (const auto& [index, job] : jobs_) {
    sizes.push_back(job->ByteSizeLong());
    total += CodedOutputStream::VarintSize32(kJobsTag) +
             CodedOutputStream::VarintSize64(sizes.back()) + sizes.back();
  }
  auto out = std::make_shared<std::string>(total, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out->data());
  for (size_t i = 0; i < jobs_.size(); ++i) {
    p = CodedOutputStream::WriteVarint32ToArray(kJobsTag, p);
    p = CodedOutputStream::WriteVarint64ToArray(sizes[i], p);
    p = jobs_[i].second->SerializeWithCachedSizesToArray(p);
  }
  encoded_ = std::move(out);
  return *encoded_;
}

JobSegment& JobSegments::writable(uint64_t submit_index) {
  auto& slot = segments_[submit_index / kSegmentSpan];
  if (!slot) {
    slot = std::make_shared<JobSegment>();
  } else if (slot.use_count() > 1) {
    slot = std::make_shared<JobSegment>(*slot);  // an image holds it: copy on write
  } else {
    // Sole owner: an image that held it is gone. The fence orders its last reads (encoding
    // on the snapshot thread) before the writes that follow.
    std::atomic_thread_fence(std::memory_order_acquire);
    slot->encoded_.reset();
  }
  return *slot;
}

void JobSegments::put(JobPtr job) {
  const uint64_t index = job->submit_index();
  auto& jobs = writable(index).jobs_;
  // Submissions come in index order, so a new job goes at the end.
  if (jobs.empty() || jobs.back().first < index) {
    jobs.emplace_back(index, std::move(job));
    return;
  }
  auto it = std::lower_bound(jobs.begin(), jobs.end(), index,
                             [](const auto& entry, uint64_t i) { return entry.first < i; });
  if (it != jobs.end() && it->first == index) {
    it->second = std::move(job);
  } else {
    jobs.emplace(it, index, std::move(job));
  }
}

void JobSegments::erase(uint64_t submit_index) {
  auto found = segments_.find(submit_index / kSegmentSpan);
  if (found == segments_.end()) return;
  auto& jobs = writable(submit_index).jobs_;
  auto it = std::lower_bound(jobs.begin(), jobs.end(), submit_index,
                             [](const auto& entry, uint64_t i) { return entry.first < i; });
  if (it != jobs.end() && it->first == submit_index) jobs.erase(it);
  if (jobs.empty()) segments_.erase(found);
}

std::vector<SegmentPtr> JobSegments::share() const {
  std::vector<SegmentPtr> out;
  out.reserve(segments_.size());
  for (const auto& [key, segment] : segments_) out.push_back(segment);
  return out;
}

}  // namespace nomad::jobs
