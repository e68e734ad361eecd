#pragma once

// The simulation of one seed, shared by simulation.cc (the event loop, node I/O, clients and
// the liveness check) and faults.cc (partitions, crashes, restarts and healing). Not part of
// the library's interface: use run_simulation() from simulation.h.

#include <string>
#include <vector>

#include "clients.h"
#include "event_queue.h"
#include "invariants.h"
#include "raft/rng.h"
#include "raft/types.h"
#include "scenario.h"
#include "sim_network.h"
#include "sim_node.h"
#include "sim_time.h"
#include "simulation.h"

namespace nomad::sim::internal {

using raft::Index;
using raft::Message;
using raft::NodeId;
using raft::Role;
using raft::Term;

std::string node_name(NodeId id);

// After healing, how often the liveness condition is tested.
inline constexpr Time kLivenessCheckEvery = 50 * kMillisecond;

class Simulation {
 public:
  explicit Simulation(const SimOptions& options);
  SimResult run();

 private:
  SimNode& node(NodeId id) { return nodes_[id - 1]; }
  bool tracing() const { return options_.trace != nullptr; }
  void trace(const std::string& line);
  // Role, term and leader changes of a node since it was last traced.
  void trace_role(const SimNode& n);

  // After any input to a running node: schedule its disk write, check the invariants, trace
  // role changes and maybe strike a leader that was just elected.
  void observe(SimNode& n, Index may_change_from = 0);
  void watch_new_leader(const SimNode& n);

  void schedule(Time at, EventKind kind, NodeId id = raft::kNoNode, uint64_t incarnation = 0,
                Message message = {});
  void schedule_tick(const SimNode& n);
  void schedule_ready(SimNode& n);

  void on_tick(const Event& e);
  void on_ready(const Event& e);
  void on_deliver(Event& e);
  void on_client();
  void on_fault();
  void on_restart(const Event& e);
  void on_heal();
  void on_liveness_check();
  void on_strike_leader(const Event& e);
  void on_disk_space(const Event& e);
  void on_disk_done(const Event& e);
  // The writer takes every queued write as one group, if it is idle and any are queued.
  void start_sync(SimNode& n);
  // Whether the group being synced meets a full disk; if so the node handles it as a server
  // does: the group and everything queued behind it are discarded with their messages, and
  // the core is told persist_failed().
  bool fails_on_full_disk(SimNode& n);

  void process_ready(SimNode& n);
  // The application's snapshot policy: compact once enough was applied since the last one.
  void maybe_compact(SimNode& n);
  void send(Message message);
  void crash(SimNode& n);
  void start(SimNode& n);
  // `target`: the node to isolate or crash instead of a random pick.
  void apply_fault(FaultKind kind, NodeId target = raft::kNoNode);

  // The leader proposes a membership change of `kind` (kAddServer, kRemoveServer or
  // kRemoveLeader); returns a description for the trace.
  std::string change_membership(SimNode& leader, FaultKind kind);
  // A kMembership event: a change by whoever leads, sometimes a second one right behind it.
  void on_membership();

  std::vector<NodeId> up_leaders() const;
  std::vector<NodeId> nodes_where(bool up) const;
  NodeId pick(const std::vector<NodeId>& ids) { return ids[fault_rng_.below(ids.size())]; }
  bool liveness_holds() const;
  std::string cluster_state() const;

  SimOptions options_;
  Scenario scenario_;
  raft::Rng fault_rng_;
  raft::Rng client_rng_;
  raft::Rng disk_rng_;
  raft::Rng disk_full_rng_;
  raft::Rng membership_rng_;
  std::vector<SimNode> nodes_;
  SimNetwork network_;
  InvariantChecker checker_;
  ClientTracker clients_;
  EventQueue queue_;
  Time now_ = 0;
  bool healed_ = false;
  Time heal_time_ = 0;
  bool clients_active_ = true;
  bool done_ = false;
  SimStats stats_;

  struct Observed {
    bool up = false;
    Role role = Role::kFollower;
    Term term = 0;
    NodeId leader = raft::kNoNode;
  };
  std::vector<Observed> observed_;  // for trace_role
  std::vector<Term> led_term_;      // per node: the term it was last seen leading (0: none)
};

}  // namespace nomad::sim::internal
