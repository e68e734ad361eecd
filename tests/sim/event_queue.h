#pragma once

// The simulation's agenda: events ordered by (time, sequence number). The sequence number
// breaks ties in the order events were scheduled, so equal times never depend on how a
// container happens to order them.

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "raft/types.h"
#include "sim_time.h"

namespace nomad::sim {

enum class EventKind : uint8_t {
  kTick,           // a node's clock fires (every 10 ms, per-node phase)
  kReady,          // a node's loop takes a Ready: send, apply, advance, queue the write
  kDeliver,        // the network hands a message to its destination
  kClient,         // a client proposes commands to whoever is leader
  kFault,          // the scenario injects its next fault
  kRestart,        // a crashed node comes back
  kHeal,           // end of the fault phase: heal everything, start the liveness check
  kLivenessCheck,  // periodic test of the liveness condition during recovery
  kStrikeLeader,   // crash or isolate a freshly elected leader (message.term: its term)
  kDiskSpace,      // a node's full disk has space again: its core may retry the write
  kDiskDone,       // a node's writer finished syncing a group of writes
  kMembership,     // the leader is asked to add or remove a server
};

struct Event {
  Time at = 0;
  uint64_t seq = 0;
  EventKind kind = EventKind::kTick;
  raft::NodeId node = raft::kNoNode;
  uint64_t incarnation = 0;  // kTick/kReady: stale when the node restarted since
  raft::Message message;     // kDeliver only
};

class EventQueue {
 public:
  void push(Event event) {
    event.seq = next_seq_++;
    heap_.push_back(std::move(event));
    std::push_heap(heap_.begin(), heap_.end(), later);
  }

  bool empty() const { return heap_.empty(); }
  Time next_time() const { return heap_.front().at; }

  Event pop() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    Event event = std::move(heap_.back());
    heap_.pop_back();
    return event;
  }

 private:
  // std::push_heap builds a max-heap; "later" as the less-than puts the earliest on top.
  static bool later(const Event& a, const Event& b) {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }

  std::vector<Event> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace nomad::sim
