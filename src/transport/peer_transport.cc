#include "transport/peer_transport.h"

#include <spdlog/spdlog.h>

#include <deque>

#include "common/log.h"
#include "common/log_rate_limit.h"
#include "common/thread_name.h"
#include "transport/channel_args.h"
#include "transport/convert.h"
#include "transport/decoded_call.h"
#include "transport/security.h"

namespace nomad::transport {

using Clock = std::chrono::steady_clock;

class PeerClient;

// One attempt at a stream to a peer. It lives until gRPC calls OnDone, which the client's
// hold on it delays until the stream is no longer wanted and no write is in flight: until
// then the client may start writes on it.
class OutboundStream final : public grpc::ClientWriteReactor<nomad_lite::RaftBatch> {
 public:
  explicit OutboundStream(PeerClient& owner) : owner_(owner) {}

  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  grpc::ClientContext context;
  nomad_lite::StreamClosed closed;
  nomad_lite::RaftBatch wire;  // the batch being written: only the writer touches it
  bool held = false;           // guarded by the owner's mutex

 private:
  PeerClient& owner_;
};

// One peer: the messages waiting for it, the stream that carries them, and a thread that only
// reconnects and sends keepalives (never on the path of a message).
class PeerClient {
 public:
  PeerClient(raft::NodeId self, PeerAddress peer) : self_(self), peer_(std::move(peer)) {
    grpc::ChannelArguments args = peer_channel_arguments();
    auto channel = grpc::CreateCustomChannel(peer_.address(), channel_credentials(), args);
    stub_ = nomad_lite::RaftService::NewStub(channel);
  }

  ~PeerClient() { stop(); }

  void start() {
    thread_ = std::thread([this] {
      common::name_this_thread("send-node-" + std::to_string(peer_.id));
      run();
    });
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::string address() const { return peer_.address(); }

  void enqueue(std::vector<raft::Message> messages) {
    std::unique_lock lock(mu_);
    if (queued_ > kMaxQueued) return;  // peer far behind or down: drop, Raft will resend
    for (auto& m : messages) {
      queue_.push_back(std::move(m));
      ++queued_;
    }
    if (writable_locked()) write(lock);
  }

 private:
  friend class OutboundStream;
  static constexpr size_t kMaxQueued = 10000;
  static constexpr size_t kMaxBatchBytes = kMaxPeerBatchBytes;
  static constexpr auto kMinBackoff = std::chrono::milliseconds(20);
  static constexpr auto kMaxBackoff = std::chrono::milliseconds(100);
  // A write normally completes in microseconds: gRPC takes it as soon as the peer's HTTP/2
  // flow-control window has room. One still in flight after this long (plus time for its
  // size at a slow link's pace) means the peer stopped reading or the connection went mute:
  // the stream is cancelled and a new one opened, and the core resends what mattered.
  static constexpr auto kWriteStallLimit = std::chrono::milliseconds(1000);
  static constexpr size_t kSlowLinkBytesPerSecond = 4 << 20;

  bool writable_locked() const { return stream_ && !writing_ && !broken_ && !stopping_; }

  bool write_stalled_locked() const {
    return stream_ && writing_ && !broken_ && Clock::now() - last_write_ > write_limit_;
  }

  // Writes everything queued (nothing: a keepalive) as one batch. Called with mu_ held and a
  // writable stream; unlocks, so that gRPC is never entered under our lock.
  void write(std::unique_lock<std::mutex>& lock) {
    // At most kMaxBatchBytes of entries and snapshot data per batch (at least one message):
    // the rest goes in the next write, when this one completes.
    std::deque<raft::Message> batch;
    size_t bytes = 0;
    while (!queue_.empty()) {
      size_t size = queue_.front().chunk.size();
      for (const auto& e : queue_.front().entries) size += e.data.size();
      if (!batch.empty() && bytes + size > kMaxBatchBytes) break;
      bytes += size;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queued_ = queue_.size();
    writing_ = true;
    last_write_ = Clock::now();
    write_limit_ = kWriteStallLimit;
    OutboundStream* stream = stream_;
    lock.unlock();
    stream->wire.Clear();
    stream->wire.set_from(self_);
    for (const auto& m : batch) to_wire(m, stream->wire.add_messages());
    auto transfer =
        std::chrono::milliseconds(stream->wire.ByteSizeLong() * 1000 / kSlowLinkBytesPerSecond);
    if (transfer.count() > 0) {
      std::lock_guard relock(mu_);
      write_limit_ = kWriteStallLimit + transfer;
    }
    stream->StartWrite(&stream->wire);
  }

  void write_done(bool ok) {
    std::unique_lock lock(mu_);
    writing_ = false;
    if (!ok) {
      // The stream broke (peer down or restarted): what waits is stale by the time a new
      // stream is up; the core resends from its current state.
      broken_ = true;
      queue_.clear();
      queued_ = 0;
    } else {
      backoff_ = kMinBackoff;
      flowed_ = true;
      if (!queue_.empty() && writable_locked()) {
        write(lock);
        return;
      }
    }
    release_if_finished(lock);
  }

  void stream_done(OutboundStream* stream, const grpc::Status& status) {
    spdlog::debug("stream to node {} at {} closed: {}", peer_.id, peer_.address(),
                  status.error_message());
    {
      std::lock_guard lock(mu_);
      if (stream_ == stream) stream_ = nullptr;
    }
    cv_.notify_all();
  }

  // Lets gRPC finish the stream once it is broken or no longer wanted and no write is in
  // flight. Called with mu_ held; unlocks.
  void release_if_finished(std::unique_lock<std::mutex>& lock) {
    OutboundStream* stream = stream_;
    bool release = stream && stream->held && !writing_ && !cancelling_ && (broken_ || stopping_);
    if (release) stream->held = false;
    lock.unlock();
    if (release) {
      // A broken call has ended already; one no longer wanted would wait for the peer.
      stream->context.TryCancel();
      stream->RemoveHold();  // OnDone may follow, on a gRPC thread or this one
    }
  }

  void open_locked() {
    auto* stream = new OutboundStream(*this);  // deletes itself in OnDone
    // Wait for the peer to be reachable instead of failing fast: retrying fail-fast calls
    // in a loop cancels each connection attempt before it completes.
    stream->context.set_wait_for_ready(true);
    add_call_credentials(&stream->context);
    stub_->async()->Stream(&stream->context, &stream->closed, stream);
    stream->AddHold();
    stream->held = true;
    stream->StartCall();
    stream_ = stream;
    broken_ = false;
    writing_ = false;
    flowed_ = false;
  }

  // Cancels the current stream: its write in flight fails, and once gRPC ends it, run() opens
  // a new one. Called with mu_ held; unlocks, and keeps the stream alive (held) meanwhile: a
  // cancel may run the stream's callbacks, which take mu_, on this very thread.
  void cancel_locked(std::unique_lock<std::mutex>& lock) {
    OutboundStream* stream = stream_;
    cancelling_ = true;
    lock.unlock();
    stream->context.TryCancel();
    lock.lock();
    cancelling_ = false;
    release_if_finished(lock);
  }

  void run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (!stream_) {
        open_locked();
        write(lock);  // what queued meanwhile, or the first keepalive
        lock.lock();
      }
      cv_.wait_for(lock, kKeepaliveInterval, [&] { return stopping_ || stream_ == nullptr; });
      if (stopping_) break;
      if (stream_ == nullptr) {  // ended: pause before the next attempt
        cv_.wait_for(lock, backoff_, [&] { return stopping_; });
        backoff_ = std::min(backoff_ * 2, kMaxBackoff);
        continue;
      }
      if (broken_) {
        release_if_finished(lock);
        lock.lock();
        continue;
      }
      if (write_stalled_locked()) {
        // A stream that never carried a write was waiting for a connection: no news.
        const auto stalled_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_write_)
                .count();
        common::log_with(flowed_ ? spdlog::level::warn : spdlog::level::debug,
                         fmt::format("stream to node {} at {}: a write made no progress for {} "
                                     "ms; opening a new stream",
                                     peer_.id, peer_.address(), stalled_ms),
                         {{"peer", peer_.id}, {"stalled_ms", stalled_ms}});
        broken_ = true;  // what waits is stale by the time a new stream is up
        queue_.clear();
        queued_ = 0;
        cancel_locked(lock);
        lock.lock();
        continue;
      }
      if (writable_locked() && Clock::now() - last_write_ >= kKeepaliveInterval) {
        write(lock);  // an empty batch: we are up
        lock.lock();
      }
    }
    if (stream_ && stream_->held) {  // else it was released, and cancelled, already
      cancel_locked(lock);
      lock.lock();
    }
    cv_.wait(lock, [&] { return stream_ == nullptr; });
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
  OutboundStream* stream_ = nullptr;                // the current attempt, until its OnDone
  bool writing_ = false;                            // a write is in flight on stream_
  bool broken_ = false;                             // a write on stream_ failed: wait for its end
  Clock::time_point last_write_{};                  // when the last write started
  Clock::duration write_limit_ = kWriteStallLimit;  // how long that write may take
  bool cancelling_ = false;                         // cancel_locked is cancelling stream_
  bool flowed_ = false;                             // a write on stream_ went through
  std::chrono::milliseconds backoff_ = kMinBackoff;
};

void OutboundStream::OnWriteDone(bool ok) { owner_.write_done(ok); }

void OutboundStream::OnDone(const grpc::Status& status) {
  owner_.stream_done(this, status);
  delete this;
}

PeerTransport::PeerTransport(raft::NodeId self, const std::vector<PeerAddress>& peers)
    : self_(self) {
  for (const auto& p : peers) clients_[p.id] = std::make_unique<PeerClient>(self, p);
}

PeerTransport::~PeerTransport() { stop(); }

void PeerTransport::start() {
  std::unique_lock lock(mu_);
  started_ = true;
  for (auto& [id, c] : clients_) c->start();
}

void PeerTransport::stop() {
  std::unique_lock lock(mu_);
  started_ = false;
  for (auto& [id, c] : clients_) c->stop();
}

void PeerTransport::set_peers(const std::vector<PeerAddress>& peers) {
  std::vector<std::unique_ptr<PeerClient>> gone;
  {
    std::unique_lock lock(mu_);
    std::map<raft::NodeId, const PeerAddress*> wanted;
    for (const auto& p : peers) {
      if (p.id != self_) wanted[p.id] = &p;
    }
    for (auto it = clients_.begin(); it != clients_.end();) {
      auto w = wanted.find(it->first);
      if (w == wanted.end() || w->second->address() != it->second->address()) {
        spdlog::info("peer transport: closing the stream to node {} at {}", it->first,
                     it->second->address());
        gone.push_back(std::move(it->second));
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [id, p] : wanted) {
      if (clients_.contains(id)) continue;
      spdlog::info("peer transport: opening a stream to node {} at {}", id, p->address());
      auto client = std::make_unique<PeerClient>(self_, *p);
      if (started_) client->start();
      clients_[id] = std::move(client);
    }
  }
  // Outside the lock: stopping joins the client's thread, and send() must not wait for it.
  for (auto& c : gone) c->stop();
}

void PeerTransport::send(std::vector<raft::Message> messages) {
  std::map<raft::NodeId, std::vector<raft::Message>> by_peer;
  for (auto& m : messages) by_peer[m.to].push_back(std::move(m));
  std::shared_lock lock(mu_);
  for (auto& [to, list] : by_peer) {
    auto it = clients_.find(to);
    if (it != clients_.end()) it->second->enqueue(std::move(list));
  }
}

namespace {

grpc::Status impersonation(grpc::CallbackServerContext* context, raft::NodeId proven,
                           raft::NodeId claimed) {
  std::string message = "the certificate is node " + std::to_string(proven) +
                        "'s but the message claims to come from node " + std::to_string(claimed);
  common::log_warn("closed a Raft stream from " + context->peer() + ": " + message,
                   {{"from", context->peer()}});
  return {grpc::StatusCode::PERMISSION_DENIED, message};
}

}  // namespace

// One peer's stream into this node: reads batch after batch until the peer closes it.
class InboundStream final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  InboundStream(RaftServiceImpl& service, grpc::CallbackServerContext* context, raft::NodeId proven)
      : service_(service), context_(context), proven_(proven) {
    StartRead(&read_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the peer closed the stream, or it was cancelled
      Finish(grpc::Status::OK);
      return;
    }
    if (grpc::Status decoded = decode(&read_, &batch_); !decoded.ok()) {
      // Most likely a node built from another proto/nomad_lite.proto; its stream reopens and
      // fails again every few hundred milliseconds, hence the limit.
      static common::LogRateLimiter limiter(5, std::chrono::minutes(1));
      auto verdict = limiter.admit("raft", common::LogRateLimiter::Clock::now());
      if (verdict.log) {
        spdlog::warn(
            "closed a Raft stream from {}: {}{}", context_->peer(), decoded.error_message(),
            verdict.suppressed ? fmt::format(" ({} more not logged)", verdict.suppressed) : "");
      }
      Finish(decoded);
      return;
    }
    if (grpc::Status ended = service_.take(batch_, proven_, context_); !ended.ok()) {
      Finish(ended);
      return;
    }
    StartRead(&read_);
  }

  void OnDone() override {
    service_.forget(context_);
    delete this;
  }

 private:
  RaftServiceImpl& service_;
  grpc::CallbackServerContext* context_;
  const raft::NodeId proven_;
  grpc::ByteBuffer read_;  // the batch being read
  nomad_lite::RaftBatch batch_;
};

namespace {

// A stream refused before it began.
class RefusedStream final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerReadReactor<grpc::ByteBuffer>* RaftServiceImpl::Stream(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  raft::NodeId proven = 0;
  if (grpc::Status admitted = admit_(*context, &proven); !admitted.ok()) {
    common::log_warn(
        "refused a Raft stream from " + context->peer() + ": " + admitted.error_message(),
        {{"from", context->peer()}});
    return new RefusedStream(admitted);
  }
  // What an OK end sends: an empty StreamClosed (gRPC sends this buffer as it is).
  if (!encode(nomad_lite::StreamClosed(), response)) {
    return new RefusedStream({grpc::StatusCode::INTERNAL, "the response could not be encoded"});
  }
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      return new RefusedStream({grpc::StatusCode::UNAVAILABLE, "node is shutting down"});
    }
    open_.push_back(context);
  }
  return new InboundStream(*this, context, proven);
}

grpc::Status RaftServiceImpl::take(const nomad_lite::RaftBatch& batch, raft::NodeId proven,
                                   grpc::CallbackServerContext* context) {
  if (proven != 0 && batch.from() != proven) return impersonation(context, proven, batch.from());
  if (batch.from() != 0) contact_(batch.from());
  for (const auto& wire : batch.messages()) {
    raft::Message m;
    std::string why;
    if (!from_wire(wire, &m, &why)) {
      spdlog::warn("dropped a message from {}: {}", context->peer(), why);
      continue;
    }
    if (proven != 0 && m.from != proven) return impersonation(context, proven, m.from);
    deliver_(std::move(m));
  }
  return grpc::Status::OK;
}

void RaftServiceImpl::forget(grpc::CallbackServerContext* context) {
  std::lock_guard lock(mu_);
  std::erase(open_, context);
}

void RaftServiceImpl::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  for (grpc::CallbackServerContext* context : open_) context->TryCancel();
}

}  // namespace nomad::transport
