#include "api/report_streams.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <string>

#include "common/log_rate_limit.h"
#include "jobs/node_capacity.h"
#include "transport/decoded_call.h"

namespace nomad::api {

namespace {

using BidiReactor = grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;

// A stream refused before its first message.
class RefusedStream final : public BidiReactor {
 public:
  explicit RefusedStream(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::Status check_report_sender(uint64_t caller, const nomad_lite::WorkerReport& report) {
  if (caller != 0 && report.node_id() != caller) {
    return {grpc::StatusCode::PERMISSION_DENIED,
            "the certificate is node " + std::to_string(caller) + "'s but the report is for node " +
                std::to_string(report.node_id())};
  }
  // Entries naming other nodes are dropped one by one on the loop (Coordinator::on_report); a
  // report made only of them is a forgery as a whole.
  const uint64_t sender = report.node_id();
  const int entries = report.started_size() + report.finished_size();
  const std::string* job = nullptr;
  uint64_t named = 0;
  int foreign = 0;
  for (const auto& s : report.started()) {
    if (s.node_id() != sender && ++foreign == 1) job = &s.job_id(), named = s.node_id();
  }
  for (const auto& f : report.finished()) {
    if (f.node_id() != sender && ++foreign == 1) job = &f.job_id(), named = f.node_id();
  }
  if (entries == 0 || foreign < entries) return grpc::Status::OK;
  const std::string quoted = job->substr(0, 64);  // a forger picks the length of its ids
  static common::LogRateLimiter limiter(5, std::chrono::minutes(1));
  auto verdict =
      limiter.admit("node " + std::to_string(sender), common::LogRateLimiter::Clock::now());
  if (verdict.log) {
    spdlog::warn(
        "refused a report of node {}: each of its {} entries names another node (job {} on node "
        "{}), a node reports only its own attempts{}",
        sender, entries, quoted, named,
        verdict.suppressed ? fmt::format(" ({} more such reports not logged)", verdict.suppressed)
                           : "");
  }
  return {grpc::StatusCode::PERMISSION_DENIED,
          "node " + std::to_string(sender) + " reported on attempts of other nodes only (job " +
              quoted + " on node " + std::to_string(named) + "): a node reports only its own"};
}

grpc::Status check_agent_sender(const ReportSink& sink, const std::string& certificate,
                                uint64_t id) {
  if (sink.agent_certified && sink.agent_certified(id, certificate)) return grpc::Status::OK;
  return {grpc::StatusCode::PERMISSION_DENIED,
          "the certificate is " + certificate + "'s, which did not register agent " +
              std::to_string(id) + ": an agent reports only for itself"};
}

class ReportStreams::Reactor final : public BidiReactor {
 public:
  Reactor(ReportStreams& owner, grpc::CallbackServerContext* context, PeerGate::Worker caller)
      : owner_(owner),
        context_(context),
        caller_(caller.node),
        agent_(std::move(caller.agent)),
        acks_(std::make_shared<Acks>()) {
    acks_->reactor = this;
    StartRead(&read_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return finish(grpc::Status::OK);  // the worker closed its end, or a cancel
    if (grpc::Status decoded = transport::decode(&read_, &report_); !decoded.ok())
      return finish(decoded);
    if (!agent_.empty() && report_.node_id() != agent_id_) {
      // Checked once per id: the cluster never binds an agent id to another certificate.
      if (grpc::Status refused = check_agent_sender(owner_.sink_, agent_, report_.node_id());
          !refused.ok()) {
        return finish(refused);
      }
      agent_id_ = report_.node_id();
    }
    const uint64_t proven = agent_.empty() ? caller_ : agent_id_;
    if (grpc::Status refused = check_report_sender(proven, report_); !refused.ok()) {
      return finish(refused);
    }
    if (report_.has_capacity()) {
      if (Status bad = jobs::check_capacity(report_.capacity()); !bad) {
        return finish(
            {grpc::StatusCode::INVALID_ARGUMENT,
             "report of node " + std::to_string(report_.node_id()) + ": " + bad.message()});
      }
    }
    if (!owner_.sink_.is_leader()) return finish(grpc::Status::OK);
    owner_.sink_.deliver(std::move(report_), [acks = acks_](const auto& ack) { post(acks, ack); });
    report_.Clear();
    StartRead(&read_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(acks_->mu);
    if (ok && acks_->next && !acks_->finishing) {
      nomad_lite::WorkerReportAck ack = std::move(*acks_->next);
      acks_->next.reset();
      lock.unlock();
      start_write(ack);
      return;
    }
    acks_->writing = false;
    if (!ok) acks_->finishing = true;  // the stream broke: end it
    finish_if_idle(std::move(lock));
  }

  void OnDone() override {
    {
      std::lock_guard lock(acks_->mu);
      acks_->reactor = nullptr;  // acks still on their way from the loop go nowhere
    }
    owner_.closed(context_);
    delete this;
  }

 private:
  // The acks' way from the node loop to this stream; it outlives the reactor.
  struct Acks {
    std::mutex mu;
    Reactor* reactor = nullptr;  // null once done
    bool writing = false;        // a write is in flight (reactor->writing_ is its bytes)
    std::optional<nomad_lite::WorkerReportAck> next;
    bool finishing = false;
    grpc::Status status;
    bool finished = false;
  };

  static void post(const std::shared_ptr<Acks>& acks, const nomad_lite::WorkerReportAck& ack) {
    std::unique_lock lock(acks->mu);
    if (!acks->reactor || acks->finishing) return;
    if (acks->writing) {
      acks->next = ack;  // a newer ack stands for an older one
      return;
    }
    acks->writing = true;
    Reactor* reactor = acks->reactor;
    lock.unlock();  // a reaction may run inline: never start an operation under the lock
    reactor->start_write(ack);
  }

  // Encodes `ack` (as gRPC would for a typed write) and writes it; called with a write
  // claimed (Acks::writing) and no lock held.
  void start_write(const nomad_lite::WorkerReportAck& ack) {
    if (!transport::encode(ack, &writing_)) {
      std::unique_lock lock(acks_->mu);
      acks_->writing = false;
      if (!acks_->finishing) {
        acks_->status = {grpc::StatusCode::INTERNAL, "an ack could not be encoded"};
      }
      acks_->finishing = true;
      finish_if_idle(std::move(lock));
      return;
    }
    StartWrite(&writing_);
  }

  // Finishes once no write is in flight (OnWriteDone finishes otherwise).
  void finish(grpc::Status status) {
    std::unique_lock lock(acks_->mu);
    if (!acks_->finishing) acks_->status = std::move(status);
    acks_->finishing = true;
    finish_if_idle(std::move(lock));
  }

  void finish_if_idle(std::unique_lock<std::mutex> lock) {
    if (!acks_->finishing || acks_->writing || acks_->finished) return;
    acks_->finished = true;
    grpc::Status status = acks_->status;
    lock.unlock();
    Finish(std::move(status));
  }

  ReportStreams& owner_;
  grpc::CallbackServerContext* context_;
  uint64_t caller_;
  std::string agent_;      // an agent's certificate name, or ""
  uint64_t agent_id_ = 0;  // the id that certificate was found to have registered
  grpc::ByteBuffer read_;  // the message being read
  nomad_lite::WorkerReport report_;
  grpc::ByteBuffer writing_;  // the ack being written
  std::shared_ptr<Acks> acks_;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ReportStreams::open(
    grpc::CallbackServerContext* context) {
  auto caller = gate_.admit_worker(*context);
  if (!caller.ok()) return new RefusedStream(to_grpc_status(caller.error));
  std::lock_guard lock(mu_);
  if (stopped_) {
    return new RefusedStream({grpc::StatusCode::UNAVAILABLE, "this node is shutting down"});
  }
  open_.insert(context);
  return new Reactor(*this, context, caller.value);
}

void ReportStreams::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  // A cancelled stream's pending read fails, and the reactor finishes; closed() waits for
  // the lock, so no context is freed while it is cancelled here.
  for (auto* context : open_) context->TryCancel();
}

void ReportStreams::closed(grpc::CallbackServerContext* context) {
  std::lock_guard lock(mu_);
  open_.erase(context);
}

}  // namespace nomad::api
