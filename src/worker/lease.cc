#include "worker/lease.h"

#include <algorithm>

namespace nomad::worker {

std::chrono::milliseconds lease_span(std::chrono::milliseconds worker_timeout,
                                     std::chrono::milliseconds election_timeout) {
  using std::chrono::milliseconds;
  milliseconds margin = std::max({milliseconds(1000), worker_timeout / 5, 4 * election_timeout});
  margin = std::min(margin, worker_timeout / 2);
  return worker_timeout - margin;
}

uint64_t Lease::sending(Clock::time_point now) {
  uint64_t seq = ++next_seq_;
  unacked_[seq] = now;
  if (unacked_.size() > kMaxUnacked) unacked_.erase(unacked_.begin());
  return seq;
}

bool Lease::acked(const LeaseAck& ack) {
  if (!ack.leader || ack.term < term_) return false;
  term_ = ack.term;
  auto it = unacked_.find(ack.seq);
  if (it == unacked_.end() || ack.seq <= acked_seq_) return false;
  acked_sent_ = it->second;
  acked_seq_ = ack.seq;
  ack_index_ = ack.last_index;
  unacked_.erase(unacked_.begin(), std::next(it));
  while (!recent_.empty() && recent_.back().second >= ack_index_) recent_.pop_back();
  recent_.emplace_back(acked_sent_, ack_index_);
  // The expired ones go too (a lease is never shorter than the span).
  while (recent_.size() > kMaxRecent || recent_.front().first + span_ < acked_sent_) {
    recent_.pop_front();
  }
  return true;
}

bool Lease::may_start(uint64_t applied_index, Clock::time_point now) const {
  if (!valid(now)) return false;
  // The newest ack whose index is applied here, if it is still valid.
  for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
    if (it->second <= applied_index) return now < it->first + span_;
  }
  return false;
}

std::chrono::milliseconds Lease::since_ack(Clock::time_point now) const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - acked_sent_);
}

}  // namespace nomad::worker
