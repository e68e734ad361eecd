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

// The heap holds only (time, sequence, slot) keys; the events, whose messages are large and
// costly to move, stay in their slots until popped (moving whole events through the heap was a
// fifth of the simulation's time).
class EventQueue {
 public:
  void push(Event event) {
    event.seq = next_seq_++;
    uint32_t slot;
    if (free_slots_.empty()) {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.push_back(std::move(event));
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
      slots_[slot] = std::move(event);
    }
    heap_.push_back(Key{slots_[slot].at, slots_[slot].seq, slot});
    std::push_heap(heap_.begin(), heap_.end(), later);
  }

  bool empty() const { return heap_.empty(); }
  Time next_time() const { return heap_.front().at; }

  Event pop() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const uint32_t slot = heap_.back().slot;
    heap_.pop_back();
    Event event = std::move(slots_[slot]);
    free_slots_.push_back(slot);
    return event;
  }

 private:
  struct Key {
    Time at;
    uint64_t seq;
    uint32_t slot;
  };

  // std::push_heap builds a max-heap; "later" as the less-than puts the earliest on top.
  static bool later(const Key& a, const Key& b) {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }

  std::vector<Key> heap_;
  std::vector<Event> slots_;
  std::vector<uint32_t> free_slots_;
  uint64_t next_seq_ = 0;
};

}  // namespace nomad::sim
