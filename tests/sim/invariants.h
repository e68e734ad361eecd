#pragma once

// The safety invariants of Raft (the paper's Figure 3 and what an application relies on),
// checked after every event of the simulation. Snapshots are checked against the committed
// prefix they claim to replace (see state_machine.h).
//
// Checks are incremental so that thousands of seeds stay fast: the checker keeps a shadow of
// every node's log (term, data hash and a hash chained over the whole prefix), re-reading only
// the part of the log an event can have touched; committed entries go into one global record
// as nodes commit them. A full rescan of every log runs every so often and at the end of a run
// to catch any change the incremental view did not expect.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/core.h"
#include "raft/types.h"
#include "sim_node.h"
#include "sim_time.h"
#include "state_machine.h"
#include "violation.h"

namespace nomad::sim {

class InvariantChecker {
 public:
  // `nodes` must outlive the checker and keep its size (node id i is nodes[i - 1]).
  explicit InvariantChecker(const std::vector<SimNode>& nodes);

  void set_time(Time now) { now_ = now; }

  // After any event delivered to a running node. Entries below `may_change_from` are assumed
  // untouched by the event (an AppendEntries can only change its prev index + 1 onwards);
  // 0 means only the tail of the log can have changed.
  void after_event(const SimNode& node, raft::Index may_change_from = 0);

  // After a node booted or restarted: its restored log and commit index.
  void after_start(const SimNode& node);

  // Before a node crashes. Entries of a term the node never persisted were seen by no one
  // (a single-node leader elects itself without a message); they vanish with the crash and
  // the node may legitimately create different ones under that term again.
  void before_crash(const SimNode& node);

  // Before a Ready is written to the node's disk: it must be persistable without losing
  // anything committed, and a snapshot it installs must hold exactly the committed prefix.
  void before_persist(const SimNode& node, const raft::Ready& ready);

  // After the node compacted its log into a snapshot of its state machine.
  void after_compact(const SimNode& node);

  // After the node sent `message` (its Ready was persisted): while a node stays in a term,
  // every entry it acknowledged in that term must stay in its persisted log.
  void after_send(const SimNode& node, const raft::Message& message);

  // Before the node's state machine applies `entry` (in the order ready() handed them out).
  void before_apply(const SimNode& node, const raft::Entry& entry);

  // Rescans every log and disk from index 1.
  void full_check();

  // Records a failure found outside the checker (liveness, by the simulation).
  void report(ViolationKind kind, std::string details);

  bool failed() const { return violation_.has_value(); }
  const std::optional<Violation>& violation() const { return violation_; }

  // Entries known to be committed: [1, committed_count()].
  raft::Index committed_count() const { return committed_.size(); }
  // Terms with a known leader.
  size_t leader_terms() const { return leaders_.size(); }

 private:
  struct ShadowEntry {
    raft::Term term = 0;
    uint64_t data_hash = 0;   // of type and data
    uint64_t chain_hash = 0;  // of every (index, term, data) up to and including this one
  };

  struct NodeTrack {
    std::vector<ShadowEntry> log;  // log[i - 1] mirrors index i
    raft::Index commit = 0;        // last commit index seen in this incarnation
    raft::Index snapshot = 0;      // the log's snapshot index at the last check
    bool leader = false;           // was leader at the last check ...
    raft::Term leader_term = 0;    // ... in this term
    // The highest index acknowledged in an accepting AppendResponse of term acked_term. Kept
    // across restarts: what was acknowledged had been persisted first.
    raft::Term acked_term = 0;
    raft::Index acked_index = 0;
  };

  struct CommittedRecord {
    raft::Term term = 0;
    uint64_t data_hash = 0;
    uint64_t chain_hash = 0;  // of the committed prefix up to here: a state machine's state
    std::string entry;        // describe_entry(), for messages
    // An upper bound on the term in which the entry was committed: the lowest term of a node
    // seen holding it as committed. Leaders of later terms must have it (Leader Completeness).
    raft::Term commit_term = 0;
    raft::NodeId node = raft::kNoNode;  // the first node seen committing it
  };

  // (index, term) -> chain hash of the first log seen holding it: Log Matching over history.
  struct ChainRecord {
    raft::Term term = 0;
    uint64_t chain_hash = 0;
    raft::NodeId node = raft::kNoNode;
  };

  struct AppliedRecord {
    raft::Term term = 0;
    uint64_t data_hash = 0;
    std::string entry;
    raft::NodeId node = raft::kNoNode;
  };

  void fail(ViolationKind kind, std::string details);
  NodeTrack& track(const SimNode& node) { return tracks_[node.id() - 1]; }

  // After a snapshot replaced the start of the node's log: the shadow's prefix becomes the
  // committed prefix it stands for.
  void align_snapshot(const SimNode& node);
  // The snapshot (index, term, bytes) must be the committed prefix up to index; `what` names
  // it in the report.
  bool check_snapshot(const SimNode& node, const raft::Snapshot& snapshot, const char* what);
  // Brings the shadow of the node's log up to date from `from` on; reports lost committed
  // entries, rewrites by a leader and Log Matching failures.
  void sync_log(const SimNode& node, raft::Index from);
  void check_election_safety(const SimNode& node);
  // A message may only be sent once the term and vote it speaks for are on disk.
  void check_durable_before_sent(const SimNode& node, const raft::Message& message);
  void check_commit(const SimNode& node);
  // Leader Completeness for a node that just became leader; remembers who leads.
  void check_leader(const SimNode& node);
  void record_committed(const SimNode& node, const raft::Entry& entry);
  // A leader's new commit must be on the disks of a majority of its voters.
  void check_durable_on_majority(const SimNode& node, const raft::Entry& entry, uint64_t hash);
  // A configuration entry a leader just appended: the earlier ones in its log are committed,
  // and it changes one server (thesis §4.1).
  void check_conf_entry(const SimNode& node, const raft::Entry& entry);
  // Does the node's log hold committed entry `index`?
  bool holds_committed(const raft::RaftLog& log, raft::Index index) const;
  void check_leader_has_committed(const SimNode& node);
  // Index of the first entry at which two nodes' logs differ, for Log Matching reports.
  std::string first_difference(const SimNode& a, raft::NodeId b, raft::Index upto) const;

  const std::vector<SimNode>& nodes_;
  Time now_ = 0;
  std::optional<Violation> violation_;
  std::vector<NodeTrack> tracks_;
  std::vector<CommittedRecord> committed_;        // committed_[i - 1] is index i
  std::vector<std::vector<ChainRecord>> chains_;  // chains_[i - 1]: one per term seen at i
  std::vector<AppliedRecord> applied_;            // applied_[i - 1]: first application of i
  std::map<raft::Term, raft::NodeId> leaders_;
};

}  // namespace nomad::sim
