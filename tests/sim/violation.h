#pragma once

// What the simulation can find wrong with a run.

#include <string>

#include "sim_time.h"

namespace nomad::sim {

enum class ViolationKind {
  kElectionSafety,         // two leaders in one term (over the whole history)
  kLogMatching,            // two logs share an (index, term) but differ at or before it
  kLeaderAppendOnly,       // a leader removed or rewrote an entry of its own log
  kLeaderCompleteness,     // a leader of a later term lacks a committed entry
  kCommittedEntryLost,     // a node's log (in memory or on disk) lost a committed entry
  kAcknowledgedEntryLost,  // a follower dropped an entry it acknowledged in its current term
  kStateMachineSafety,     // two nodes committed or applied different entries at one index
  kApplyOrder,             // a node applied out of order, skipped an entry or applied it twice
  kCommitRegressed,        // a commit index moved backwards, or restarted below what was persisted
  // The core's output breaks the persistence contract: a Ready with a gap or a commit index
  // beyond its log, or a message (a granted vote, an answer in a new term) sent before the
  // state it depends on is durable.
  kPersistenceContract,
  // An entry became committed while durable on fewer than a majority of disks (a leader
  // counted a copy not yet written, its own or a follower's).
  kCommitNotDurable,
  // A leader appended a configuration entry while an earlier one in its log was not
  // committed, or one that changes more than one server (thesis §4.1).
  kMembershipChange,
  kLiveness,  // after healing, no leader or acknowledged writes not applied everywhere
};

const char* violation_kind_name(ViolationKind kind);

struct Violation {
  ViolationKind kind = ViolationKind::kElectionSafety;
  Time at = 0;
  std::string details;
};

}  // namespace nomad::sim
