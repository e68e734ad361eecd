#include "transport/peer_transport.h"

#include <spdlog/spdlog.h>

#include <deque>

#include "transport/convert.h"
#include "transport/security.h"

namespace nomad::transport {

using Clock = std::chrono::steady_clock;

// One peer: a queue and the thread that drains it into a stream.
class PeerClient {
 public:
  PeerClient(raft::NodeId self, PeerAddress peer) : self_(self), peer_(std::move(peer)) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 256 << 20);
    args.SetInt(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, 256 << 20);
    // Reconnect quickly after a peer restarts: failover time depends on it.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 300);
    auto channel = grpc::CreateCustomChannel(peer_.address(), channel_credentials(), args);
    stub_ = nomad_lite::RaftService::NewStub(channel);
  }

  ~PeerClient() { stop(); }

  void start() { thread_ = std::thread([this] { run(); }); }

  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      if (context_) context_->TryCancel();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void enqueue(std::vector<raft::Message> messages) {
    {
      std::lock_guard lock(mu_);
      if (queued_ > kMaxQueued) return;  // peer far behind or down: drop, Raft will resend
      for (auto& m : messages) {
        queue_.push_back(std::move(m));
        ++queued_;
      }
    }
    cv_.notify_one();
  }

 private:
  static constexpr size_t kMaxQueued = 10000;

  void run() {
    std::unique_ptr<grpc::ClientWriter<nomad_lite::RaftBatch>> writer;
    nomad_lite::StreamClosed closed;
    auto backoff = std::chrono::milliseconds(20);
    while (true) {
      std::deque<raft::Message> batch;
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, kKeepaliveInterval, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) break;
        batch.swap(queue_);
        queued_ = 0;
      }
      if (!writer) {
        auto context = std::make_unique<grpc::ClientContext>();
        // Wait for the peer to be reachable instead of failing fast: retrying fail-fast calls
        // in a loop cancels each connection attempt before it completes.
        context->set_wait_for_ready(true);
        add_call_credentials(context.get());
        grpc::ClientContext* raw = context.get();
        {
          std::lock_guard lock(mu_);
          if (stopping_) break;
          context_ = std::move(context);  // published first, so stop() can cancel the wait
        }
        // Blocks while the peer is unreachable: never hold mu_ here, or enqueue() (called by
        // the node loop) would block behind it.
        writer = stub_->Stream(raw, &closed);
      }
      nomad_lite::RaftBatch wire;  // empty after an idle interval: a keepalive
      wire.set_from(self_);
      for (const auto& m : batch) to_wire(m, wire.add_messages());
      if (writer->Write(wire)) {
        backoff = std::chrono::milliseconds(20);
        continue;
      }
      // The stream broke (peer down or restarted): drop this batch, reconnect after a pause.
      writer->WritesDone();
      grpc::Status status = writer->Finish();
      writer.reset();
      spdlog::debug("stream to node {} at {} closed: {}", peer_.id, peer_.address(),
                    status.error_message());
      std::unique_lock lock(mu_);
      context_.reset();
      cv_.wait_for(lock, backoff, [&] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
      queue_.clear();  // stale by now; the core resends from current state
      queued_ = 0;
    }
    if (writer) {
      writer->WritesDone();
      writer->Finish();
    }
  }

  raft::NodeId self_;
  PeerAddress peer_;
  std::unique_ptr<nomad_lite::RaftService::Stub> stub_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<raft::Message> queue_;
  size_t queued_ = 0;
  bool stopping_ = false;
  std::unique_ptr<grpc::ClientContext> context_;
};

PeerTransport::PeerTransport(raft::NodeId self, const std::vector<PeerAddress>& peers) {
  for (const auto& p : peers) clients_[p.id] = std::make_unique<PeerClient>(self, p);
}

PeerTransport::~PeerTransport() { stop(); }

void PeerTransport::start() {
  for (auto& [id, c] : clients_) c->start();
}

void PeerTransport::stop() {
  for (auto& [id, c] : clients_) c->stop();
}

void PeerTransport::send(std::vector<raft::Message> messages) {
  std::map<raft::NodeId, std::vector<raft::Message>> by_peer;
  for (auto& m : messages) by_peer[m.to].push_back(std::move(m));
  for (auto& [to, list] : by_peer) {
    auto it = clients_.find(to);
    if (it != clients_.end()) it->second->enqueue(std::move(list));
  }
}

namespace {

grpc::Status impersonation(grpc::ServerContext* context, raft::NodeId proven,
                           raft::NodeId claimed) {
  std::string message = "the certificate is node " + std::to_string(proven) +
                        "'s but the message claims to come from node " + std::to_string(claimed);
  spdlog::warn("closed a Raft stream from {}: {}", context->peer(), message);
  return {grpc::StatusCode::PERMISSION_DENIED, message};
}

}  // namespace

grpc::Status RaftServiceImpl::Stream(grpc::ServerContext* context,
                                     grpc::ServerReader<nomad_lite::RaftBatch>* reader,
                                     nomad_lite::StreamClosed*) {
  raft::NodeId proven = 0;
  if (grpc::Status admitted = admit_(*context, &proven); !admitted.ok()) {
    spdlog::warn("refused a Raft stream from {}: {}", context->peer(), admitted.error_message());
    return admitted;
  }
  {
    std::lock_guard lock(mu_);
    if (stopped_) return {grpc::StatusCode::UNAVAILABLE, "node is shutting down"};
    open_.push_back(context);
  }
  nomad_lite::RaftBatch batch;
  grpc::Status ended = grpc::Status::OK;
  while (reader->Read(&batch)) {
    if (proven != 0 && batch.from() != proven) {
      ended = impersonation(context, proven, batch.from());
      break;
    }
    if (batch.from() != 0) contact_(batch.from());
    for (const auto& wire : batch.messages()) {
      raft::Message m;
      std::string why;
      if (!from_wire(wire, &m, &why)) {
        spdlog::warn("dropped a message from {}: {}", context->peer(), why);
        continue;
      }
      if (proven != 0 && m.from != proven) {
        ended = impersonation(context, proven, m.from);
        break;
      }
      deliver_(std::move(m));
    }
    if (!ended.ok()) break;
  }
  std::lock_guard lock(mu_);
  std::erase(open_, context);
  return ended;
}

void RaftServiceImpl::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  for (grpc::ServerContext* context : open_) context->TryCancel();
}

}  // namespace nomad::transport
