#include "server/server_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "common/byte_size.h"
#include "worker/capacity.h"

namespace nomad::server {

ServerWorker::ServerWorker(const node::ServerConfig& config) {
  worker::WorkerOptions wo;
  wo.node_id = config.node_id;
  wo.slots = config.worker_slots < 0 ? std::max(1u, std::thread::hardware_concurrency())
                                     : static_cast<uint32_t>(config.worker_slots);
  wo.default_timeout = config.default_timeout;
  // The lease outlives a few heartbeats, so one late ack does not stop a job.
  wo.lease_span = worker::lease_span(config.worker_timeout, config.election_timeout);
  wo.report_interval = std::min(wo.report_interval, wo.lease_span / 4);
  wo.executor.root = std::filesystem::path(config.effective_data_dir()) / "jobs";
  wo.executor.isolation = config.executor;
  wo.executor.kill_grace = config.kill_grace;
  wo.executor.output_cap = config.output_cap;
  wo.executor.job_user = config.job_user;
  // The flags were checked at start (cli/server_flags.cc); a machine that cannot be read
  // still reports what it could find.
  nomad_lite::NodeCapacity capacity;
  if (worker::capacity_from_flags({config.cpu, config.memory, config.labels, config.node_name},
                                  &capacity)) {
    wo.capacity = std::move(capacity);
  } else {
    wo.capacity = worker::machine_capacity();
  }
  std::string labels;
  for (const auto& [key, value] : wo.capacity->labels()) {
    labels += (labels.empty() ? "" : ",") + key + "=" + value;
  }
  spdlog::info("worker offers {} slots, {} cores, {} memory{}{} (node name {})", wo.slots,
               wo.capacity->cpu(), format_byte_size(wo.capacity->memory_bytes()),
               labels.empty() ? "" : ", labels ", labels, wo.capacity->name());
  worker_ = std::make_unique<worker::Worker>(
      wo, [this](const nomad_lite::WorkerReport& r) { return send_report(r); });
  internal_.set_report_ack_handler(
      [this](const nomad_lite::WorkerReportAck& ack) { worker_->on_ack(ack); });
}

void ServerWorker::stop() {
  internal_.interrupt_report_stream();  // the reporter may be in a write to a stalled leader
  worker_->stop();
}

bool ServerWorker::send_report(const nomad_lite::WorkerReport& report) {
  raft::NodeId leader = node_->leader_id();
  if (leader == raft::kNoNode) return false;
  if (leader == node_->config().node_id) {
    node_->deliver_report(report,
                          [this](const nomad_lite::WorkerReportAck& ack) { worker_->on_ack(ack); });
    return true;
  }
  // Waiting long for a connection to a leader that died would spend the lease on it: a short
  // wait, and the next heartbeat asks whoever is leader by then.
  const auto connect_wait = std::clamp<std::chrono::milliseconds>(
      worker_->options().lease_span / 8, std::chrono::milliseconds(100), std::chrono::seconds(1));
  return internal_.stream_report(node_->address_of(leader), report, connect_wait);
}

}  // namespace nomad::server
