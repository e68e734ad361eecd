#include "api/report_streams.h"

#include <string>

namespace nomad::api {

namespace {

// A stream refused before its first message.
class RefusedStream final : public grpc::ServerReadReactor<nomad_lite::WorkerReport> {
 public:
  explicit RefusedStream(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::Status check_report_sender(uint64_t caller, const nomad_lite::WorkerReport& report) {
  if (caller == 0 || report.node_id() == caller) return grpc::Status::OK;
  return {grpc::StatusCode::PERMISSION_DENIED, "the certificate is node " + std::to_string(caller) +
                                                   "'s but the report is for node " +
                                                   std::to_string(report.node_id())};
}

class ReportStreams::Reactor final : public grpc::ServerReadReactor<nomad_lite::WorkerReport> {
 public:
  Reactor(ReportStreams& owner, grpc::CallbackServerContext* context, uint64_t caller,
          nomad_lite::WorkerReportAck* ack)
      : owner_(owner), context_(context), caller_(caller), ack_(ack) {
    StartRead(&report_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the worker closed its end, or the call was cancelled
      ack_->set_leader(owner_.sink_.is_leader());
      Finish(grpc::Status::OK);
      return;
    }
    if (grpc::Status refused = check_report_sender(caller_, report_); !refused.ok()) {
      Finish(refused);
      return;
    }
    if (!owner_.sink_.is_leader()) {
      ack_->set_leader(false);
      Finish(grpc::Status::OK);
      return;
    }
    owner_.sink_.deliver(std::move(report_));
    report_.Clear();
    StartRead(&report_);
  }

  void OnDone() override {
    owner_.closed(context_);
    delete this;
  }

 private:
  ReportStreams& owner_;
  grpc::CallbackServerContext* context_;
  uint64_t caller_;
  nomad_lite::WorkerReportAck* ack_;
  nomad_lite::WorkerReport report_;
};

grpc::ServerReadReactor<nomad_lite::WorkerReport>* ReportStreams::open(
    grpc::CallbackServerContext* context, nomad_lite::WorkerReportAck* ack) {
  auto caller = gate_.admit(*context);
  if (!caller.ok()) return new RefusedStream(to_grpc_status(caller.error));
  std::lock_guard lock(mu_);
  if (stopped_) {
    return new RefusedStream({grpc::StatusCode::UNAVAILABLE, "this node is shutting down"});
  }
  open_.insert(context);
  return new Reactor(*this, context, caller.value, ack);
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
