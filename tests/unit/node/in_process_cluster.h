#pragma once

// Nodes in one process for node tests: each node::Node runs its real loop on an in-memory log
// store and snapshot store, and the nodes talk over a LoopbackNetwork (src/node/testing/).
// Time is real (short ticks): tests wait for conditions with deadlines, never for a fixed time.

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "node/node.h"
#include "node/testing/loopback_network.h"
#include "node/testing/memory_log_store.h"
#include "node/testing/memory_snapshots.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::node::testing {

inline constexpr std::chrono::seconds kPatience{20};  // generous: the machine may be busy

// Polls `condition` until it holds or `limit` passes; returns whether it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = kPatience) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

inline std::string submit_command(const std::string& job_id) {
  nomad_lite::Command command;
  nomad_lite::Job* job = command.mutable_submit()->mutable_job();
  job->set_id(job_id);
  job->set_command("true");
  job->set_status(nomad_lite::JOB_STATUS_PENDING);
  return command.SerializeAsString();
}

inline std::string cancel_command(const std::string& job_id) {
  nomad_lite::Command command;
  command.mutable_cancel()->set_job_id(job_id);
  return command.SerializeAsString();
}

// Proposes `command` on `node`; the future holds how it ended.
inline std::shared_future<ProposeOutcome> propose(Node& node, std::string command) {
  auto promise = std::make_shared<std::promise<ProposeOutcome>>();
  std::shared_future<ProposeOutcome> answer = promise->get_future().share();
  node.propose(std::move(command), [promise](ProposeOutcome out) { promise->set_value(out); });
  return answer;
}

inline bool answered(const std::shared_future<ProposeOutcome>& answer,
                     std::chrono::milliseconds limit = kPatience) {
  return answer.wait_for(limit) == std::future_status::ready;
}

class InProcessCluster {
 public:
  // Nodes 1..size; `tune` adjusts every node's configuration.
  explicit InProcessCluster(size_t size, const std::function<void(ServerConfig&)>& tune = {}) {
    for (raft::NodeId id = 1; id <= size; ++id) {
      auto& m = members_[id];
      m = std::make_unique<Member>();
      m->config.node_id = id;
      m->config.worker_slots = 0;
      m->config.tick = std::chrono::milliseconds(5);
      m->config.heartbeat_interval = std::chrono::milliseconds(25);
      m->config.election_timeout = std::chrono::milliseconds(150);
      for (raft::NodeId peer = 1; peer <= size; ++peer) {
        if (peer != id) m->config.peers.push_back({peer, "127.0.0.1", static_cast<uint16_t>(peer)});
      }
      if (tune) tune(m->config);
    }
  }

  ~InProcessCluster() {
    for (auto& [id, m] : members_) {
      m->log.release_syncs();
      m->snapshots.release_saves();
    }
    for (auto& [id, m] : members_) stop(id);
  }

  // Adds node `id` as a node that joins the running cluster: no bootstrap peers, the timings
  // of node 1. start() it, then add it through the leader (Node::change_membership).
  void add_joining(raft::NodeId id) {
    auto m = std::make_unique<Member>();
    m->config = members_.begin()->second->config;
    m->config.node_id = id;
    m->config.peers.clear();
    m->config.joined = true;
    members_[id] = std::move(m);
  }

  void start_all() {
    for (auto& [id, m] : members_) start(id);
  }
  // Starts node `id` from what its stores hold.
  void start(raft::NodeId id) {
    Member& m = *members_.at(id);
    m.node = std::make_unique<Node>(
        m.config, NodeDeps{.log = &m.log, .snapshots = &m.snapshots, .peers = network_.sender(id)});
    network_.attach(id, m.node.get());
    Status s = m.node->start();
    if (!s) throw std::runtime_error("node " + std::to_string(id) + ": " + s.message());
  }
  void stop(raft::NodeId id) {
    Member& m = *members_.at(id);
    network_.attach(id, nullptr);
    if (m.node) m.node->stop();
    m.node.reset();
  }
  // Stops node `id` and loses every write its log store had not synced.
  void crash(raft::NodeId id) {
    stop(id);
    members_.at(id)->log.crash();
  }

  Node& node(raft::NodeId id) { return *members_.at(id)->node; }
  MemoryLogStore& log(raft::NodeId id) { return members_.at(id)->log; }
  MemorySnapshots& snapshots(raft::NodeId id) { return members_.at(id)->snapshots; }
  LoopbackNetwork& network() { return network_; }

  // The node that is leader with every running node agreeing, once there is one (0: none
  // within `limit`).
  raft::NodeId wait_for_leader(std::chrono::milliseconds limit = kPatience) {
    raft::NodeId leader = raft::kNoNode;
    eventually(
        [&] {
          leader = raft::kNoNode;
          for (auto& [id, m] : members_) {
            if (!m->node) continue;
            ClusterView v = m->node->cluster_view();
            if (v.leader_id == raft::kNoNode || (leader && v.leader_id != leader)) return false;
            leader = v.leader_id;
          }
          return leader != raft::kNoNode && members_.at(leader)->node &&
                 members_.at(leader)->node->is_leader();
        },
        limit);
    return leader;
  }

 private:
  struct Member {
    ServerConfig config;
    MemoryLogStore log;
    MemorySnapshots snapshots;
    std::unique_ptr<Node> node;
  };
  // Declared first: the members' nodes stop before the network goes.
  LoopbackNetwork network_;
  std::map<raft::NodeId, std::unique_ptr<Member>> members_;
};

}  // namespace nomad::node::testing
