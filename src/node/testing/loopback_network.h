#pragma once

// Raft messages between in-process nodes for node tests: each node gets a PeerSender
// (sender(id)) that hands its messages straight to the addressed node's receive(). Links can
// be cut (cut(), isolate()) and mended (heal()); a cut link drops what it carries, as a
// network partition does. An observer sees every message sent, delivered or not, on the
// sending node's loop thread.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "node/node.h"
#include "node/node_deps.h"

namespace nomad::node::testing {

class LoopbackNetwork {
 public:
  using Observer = std::function<void(const raft::Message&)>;

  class Sender final : public PeerSender {
   public:
    Sender(LoopbackNetwork& network, raft::NodeId self) : network_(network), self_(self) {}
    void start() override {}
    void stop() override {}
    void send(std::vector<raft::Message> messages) override {
      network_.deliver(self_, std::move(messages));
    }

   private:
    LoopbackNetwork& network_;
    raft::NodeId self_;
  };

  // The sender node `id` is built with. It lives as long as the network.
  PeerSender* sender(raft::NodeId id) {
    std::lock_guard lock(mu_);
    auto& s = senders_[id];
    if (!s) s = std::make_unique<Sender>(*this, id);
    return s.get();
  }

  // Messages to `id` go to `node` (nullptr: nowhere, e.g. while it is stopped). Detach a node
  // before destroying it.
  void attach(raft::NodeId id, Node* node) {
    std::lock_guard lock(mu_);
    nodes_[id] = node;
  }

  void cut(raft::NodeId a, raft::NodeId b) {
    std::lock_guard lock(mu_);
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void isolate(raft::NodeId id) {
    std::lock_guard lock(mu_);
    for (const auto& [other, node] : nodes_) {
      if (other == id) continue;
      cut_.insert({id, other});
      cut_.insert({other, id});
    }
  }
  void heal() {
    std::lock_guard lock(mu_);
    cut_.clear();
  }
  void observe(Observer observer) {
    std::lock_guard lock(mu_);
    observer_ = std::move(observer);
  }

 private:
  void deliver(raft::NodeId from, std::vector<raft::Message> messages) {
    std::lock_guard lock(mu_);
    for (auto& m : messages) {
      if (observer_) observer_(m);
      if (cut_.count({from, m.to})) continue;
      auto it = nodes_.find(m.to);
      if (it == nodes_.end() || !it->second) continue;
      it->second->note_contact(from);
      it->second->receive(std::move(m));
    }
  }

  std::mutex mu_;
  std::map<raft::NodeId, std::unique_ptr<Sender>> senders_;
  std::map<raft::NodeId, Node*> nodes_;
  std::set<std::pair<raft::NodeId, raft::NodeId>> cut_;
  Observer observer_;
};

}  // namespace nomad::node::testing
