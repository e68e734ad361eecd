#pragma once

// What an agent serves on --listen: InternalService.StreamLogs, the output of the attempts it
// ran, for the servers that `job logs` asks (api::Service::stream_local_logs over the agent's
// executor). Only the cluster's nodes may call it (api::PeerGate: a node certificate with
// TLS, an operator token without). Every other InternalService method answers UNIMPLEMENTED.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>

#include "api/peer_gate.h"
#include "api/service.h"
#include "proto/nomad_lite.grpc.pb.h"
#include "worker/worker.h"

namespace nomad::server {

// The agent's side of api::ClusterPort: its own output files, and nothing of a cluster.
class AgentOutputPort final : public api::ClusterPort {
 public:
  // The worker whose executor holds the output (null until the agent registered).
  void set_worker(worker::Worker* worker) { worker_ = worker; }

  void propose(const nomad_lite::Command&, std::optional<api::SubmittedJob>,
               std::function<void(api::ProposeResult)> done) override {
    done({.code = api::ProposeResult::Code::kNotLeader});
  }
  void read_jobs(const std::function<void(const jobs::JobStore&)>& read) const override {
    read(empty_);
  }
  bool is_leader() const override { return false; }
  void wait_job(const std::string&, std::chrono::steady_clock::time_point,
                std::function<void(nomad_lite::Job, bool)> done) override {
    done({}, false);
  }
  api::ClusterState cluster_state() const override { return {}; }
  void add_jobs_listener(std::function<void(const std::vector<std::string>&)>) override {}
  api::LocalOutput read_local_output(const std::string& job_id, uint32_t attempt, bool from_stderr,
                                     uint64_t offset, size_t max,
                                     std::chrono::milliseconds wait_for) override;
  bool stream_remote_output(uint64_t, const nomad_lite::JobLogsRequest&,
                            const std::function<bool(const nomad_lite::LogChunk&)>&) override {
    return false;
  }

 private:
  std::atomic<worker::Worker*> worker_{nullptr};
  jobs::JobStore empty_;
};

class AgentLogService final : public nomad_lite::InternalService::Service {
 public:
  AgentLogService(api::Service& service, const api::PeerGate& gate)
      : service_(service), gate_(gate) {}

  grpc::Status StreamLogs(grpc::ServerContext* context, const nomad_lite::JobLogsRequest* request,
                          grpc::ServerWriter<nomad_lite::LogChunk>* writer) override;

 private:
  api::Service& service_;
  const api::PeerGate& gate_;
};

}  // namespace nomad::server
