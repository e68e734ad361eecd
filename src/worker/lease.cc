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
  return true;
}

std::chrono::milliseconds Lease::since_ack(Clock::time_point now) const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - acked_sent_);
}

}  // namespace nomad::worker
