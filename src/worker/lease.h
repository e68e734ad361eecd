#pragma once

// A worker's lease from the leader: the right to start and keep running attempts, renewed by
// every report the leader acknowledges (README "No two attempts of a job at once").
//
// The leader acks a report on its loop thread after proposing everything its coordinator had
// to say, with its term and its last log index then. The lease is the send time, on this
// node's steady clock, of the newest acked report; it is valid for `span` from then, where
// span = --worker-timeout minus a margin (lease_span()). The leader declares an attempt lost
// only --worker-timeout + --kill-grace after it last heard from the node, counted on its own
// steady clock from a receipt that came after that send: so a worker that stops its attempts
// when the lease runs out has them dead before the verdict. Only elapsed times on one clock
// are compared, never two nodes' wall clocks; the margin absorbs bounded drift between
// elapsed-time clocks, a deposed leader's last acks (it steps down within two election
// timeouts by check-quorum) and scheduling delays.
//
// Starting an attempt also needs the ack's log index to be applied here. An index, not a
// time: a node catching up after a partition applies an old assignment before it applies the
// leader's later verdict on it ("lost"), and no clock tells it that verdict exists. The ack
// does: everything the leader proposed before acking lies at or below its index, so once
// that index is applied the attempt's fate as of the ack is known here. An attempt declared
// lost later than the ack is declared only after this lease ran out and the process was
// killed (see above).
//
// Not thread-safe: the Worker guards it with its lock.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>

namespace nomad::worker {

// The lease's validity: worker_timeout minus max(1 s, 20% of it, four election timeouts),
// the margin kept to at most half the timeout (a shorter timeout leaves less room for drift).
std::chrono::milliseconds lease_span(std::chrono::milliseconds worker_timeout,
                                     std::chrono::milliseconds election_timeout);

// A leader's ack of one report (WorkerReportAck, without the proto: this library has none).
struct LeaseAck {
  bool leader = false;
  uint64_t seq = 0;
  uint64_t term = 0;
  uint64_t last_index = 0;
};

class Lease {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Lease(std::chrono::milliseconds span) : span_(span) {}

  // Numbers the report about to be sent at `now` (WorkerReport.seq).
  uint64_t sending(Clock::time_point now);
  // An ack from a leader. True when it renewed the lease (acks of older reports, of unknown
  // ones and from a lower term than one seen before change nothing).
  bool acked(const LeaseAck& ack);

  bool held_ever() const { return acked_sent_ != Clock::time_point{}; }
  bool valid(Clock::time_point now) const { return held_ever() && now < expires(); }
  Clock::time_point expires() const { return acked_sent_ + span_; }
  // How long since the newest acked report was sent (for messages).
  std::chrono::milliseconds since_ack(Clock::time_point now) const;
  // An attempt may start: some ack still valid at `now` has an index applied here, so every
  // verdict the leader had proposed when it sent that ack is known here. Not only the newest:
  // under load each ack names entries not yet applied, and a worker waiting for the newest
  // one would chase it. An older valid ack is as safe (a verdict after it needs the node
  // silent for longer than the lease).
  bool may_start(uint64_t applied_index, Clock::time_point now) const;
  uint64_t ack_index() const { return ack_index_; }
  std::chrono::milliseconds span() const { return span_; }

 private:
  static constexpr size_t kMaxUnacked = 256;  // reports never acked are forgotten past this

  std::chrono::milliseconds span_;
  uint64_t next_seq_ = 0;
  std::map<uint64_t, Clock::time_point> unacked_;  // seq -> send time
  Clock::time_point acked_sent_{};
  uint64_t acked_seq_ = 0;
  uint64_t term_ = 0;  // the highest seen in an ack
  uint64_t ack_index_ = 0;
  // Valid acks, oldest first, as (send time, index); both rise along the queue (an older ack
  // with an index as high as a newer one's is of no more use).
  std::deque<std::pair<Clock::time_point, uint64_t>> recent_;
  static constexpr size_t kMaxRecent = 64;
};

}  // namespace nomad::worker
