#pragma once

// api::ClusterPort over the production cluster member: node::Node for proposals, the job store,
// waits and the cluster view; the node's worker's executor for this node's output files; the
// internal client for output kept on another node.

#include <memory>

#include "api/cluster_port.h"
#include "node/callback_runner.h"
#include "node/node.h"
#include "transport/internal_client.h"
#include "worker/worker.h"

namespace nomad::server {

class ClusterPortAdapter final : public api::ClusterPort {
 public:
  // `worker` holds this node's job output; `internal` reads other nodes'.
  ClusterPortAdapter(node::Node& node, worker::Worker& worker, transport::InternalClient& internal)
      : node_(node),
        worker_(worker),
        internal_(internal),
        read_answers_(std::make_unique<node::CallbackRunner>("read-answers")) {}

  void propose(const nomad_lite::Command& command, std::optional<api::SubmittedJob> submitted,
               std::function<void(api::ProposeResult)> done) override;
  void read_jobs(const std::function<void(const jobs::JobStore&)>& read) const override {
    node_.read_jobs(read);
  }
  bool is_leader() const override { return node_.is_leader(); }
  void wait_job(const std::string& id, std::chrono::steady_clock::time_point deadline,
                std::function<void(nomad_lite::Job, bool)> done) override {
    node_.wait_job(id, deadline, std::move(done));
  }
  api::ClusterState cluster_state() const override;
  void add_jobs_listener(std::function<void(const std::vector<std::string>&)> listener) override {
    node_.add_jobs_listener(std::move(listener));
  }
  api::LocalOutput read_local_output(const std::string& job_id, uint32_t attempt, bool from_stderr,
                                     uint64_t offset, size_t max,
                                     std::chrono::milliseconds wait_for) override;
  bool stream_remote_output(uint64_t node_id, const nomad_lite::JobLogsRequest& request,
                            const std::function<bool(const nomad_lite::LogChunk&)>& write) override;
  void read_barrier(uint64_t min_index, bool linearizable,
                    std::chrono::steady_clock::time_point deadline,
                    std::function<void(Status, uint64_t)> done) override;
  void transfer_leadership(uint64_t target, std::chrono::steady_clock::time_point deadline,
                           std::function<void(api::TransferResult)> done) override;
  Status save_backup(uint64_t min_index, std::string* file_bytes) override;

 private:
  node::Node& node_;
  worker::Worker& worker_;
  transport::InternalClient& internal_;
  // Reads answer here, off the node's loop: a page of jobs takes a while to encode.
  std::unique_ptr<node::CallbackRunner> read_answers_;
};

}  // namespace nomad::server
