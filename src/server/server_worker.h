#pragma once

// This node's worker as the node drives it (node::WorkerHooks): the worker::Worker, and the
// InternalClient that carries its reports to the leader and the leader's acks back.

#include <memory>

#include "node/node.h"
#include "node/node_deps.h"
#include "node/server_config.h"
#include "transport/internal_client.h"
#include "worker/worker.h"

namespace nomad::server {

class ServerWorker final : public node::WorkerHooks {
 public:
  explicit ServerWorker(const node::ServerConfig& config);

  // The node reports go to (its view names the leader). Before the node starts.
  void attach(node::Node& node) { node_ = &node; }

  void start() override { worker_->start(); }
  void stop() override;
  void on_applied(const jobs::JobStore& store, const std::vector<std::string>& changed,
                  uint64_t applied_index) override {
    worker_->on_applied(store, changed, applied_index);
  }
  void leader_changed() override { internal_.interrupt_report_stream(); }
  void report_now() override { worker_->report_now(); }

  worker::Worker& worker() { return *worker_; }
  transport::InternalClient& internal_client() { return internal_; }

 private:
  bool send_report(const nomad_lite::WorkerReport& report);

  node::Node* node_ = nullptr;
  transport::InternalClient internal_;
  std::unique_ptr<worker::Worker> worker_;
};

}  // namespace nomad::server
