#pragma once

// Raft messages between nodes over gRPC. Each node keeps one long-lived client stream to each
// peer (RaftService.Stream) and writes every message for that peer to it in order, so
// replication is pipelined: no request waits for the previous one's answer. Answers come back
// on the peer's own stream to us.
//
// Both ends use gRPC's callback API, so no thread of ours stands between the node loop and the
// socket: the loop hands a batch to gRPC itself when the stream is idle, and while a write is
// in flight, messages queue and go out together as soon as it completes. Sending never blocks
// the loop. A peer that cannot be reached loses its messages; Raft retransmits what matters.
// A stream idle for kKeepaliveInterval carries an empty batch, so every node knows which
// others are up, whatever their Raft roles (followers exchange no Raft messages).
// A connection gone mute is closed by gRPC's keepalive (transport/channel_args.h), and a write
// that makes no progress for about a second (a peer that stopped reading) gets its stream
// cancelled; either way a new stream follows within a few hundred milliseconds.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "common/peers.h"
#include "proto/nomad_lite.grpc.pb.h"
#include "raft/types.h"

namespace nomad::transport {

class PeerClient;

inline constexpr std::chrono::milliseconds kKeepaliveInterval{200};

class PeerTransport {
 public:
  PeerTransport(raft::NodeId self, const std::vector<PeerAddress>& peers);
  ~PeerTransport();

  void start();
  void stop();

  void send(std::vector<raft::Message> messages);

  // The peers from now on (the membership changed): a stream is opened to each new one, and
  // closed to each one gone or whose address changed (then reopened at the new address).
  // Messages for a node with no stream are dropped. Thread-safe, also against send().
  void set_peers(const std::vector<PeerAddress>& peers);

 private:
  raft::NodeId self_;
  std::shared_mutex mu_;  // guards clients_ and started_
  bool started_ = false;
  std::map<raft::NodeId, std::unique_ptr<PeerClient>> clients_;
};

// The receiving side: hands every well-formed message to `deliver`. It takes each batch as
// bytes and decodes it itself (transport/decoded_call.h), so that bytes that are not a RaftBatch
// end the stream with INVALID_ARGUMENT and a message, where gRPC alone ends it with OK.
class RaftServiceImpl final : public nomad_lite::RaftService::WithRawCallbackMethod_Stream<
                                  nomad_lite::RaftService::Service> {
 public:
  using Deliver = std::function<void(raft::Message)>;
  using Contact = std::function<void(raft::NodeId)>;
  // Decides whether a caller may send Raft messages at all; sets *proven to the node it proved
  // to be (0: not known), and then every message must come from that node.
  using Admit = std::function<grpc::Status(const grpc::ServerContextBase&, raft::NodeId* proven)>;
  // `contact` hears of every batch, keepalives included: the sender is up.
  RaftServiceImpl(Deliver deliver, Contact contact, Admit admit)
      : deliver_(std::move(deliver)), contact_(std::move(contact)), admit_(std::move(admit)) {}

  grpc::ServerReadReactor<grpc::ByteBuffer>* Stream(grpc::CallbackServerContext* context,
                                                    grpc::ByteBuffer* response) override;

  // Ends every open stream and refuses new ones. A peer's stream stays open for as long as the
  // peer runs, so without this grpc::Server::Shutdown would wait out its whole deadline.
  void stop();

 private:
  friend class InboundStream;
  // Hands one batch's messages to the node; an error ends the stream.
  grpc::Status take(const nomad_lite::RaftBatch& batch, raft::NodeId proven,
                    grpc::CallbackServerContext* context);
  void forget(grpc::CallbackServerContext* context);

  Deliver deliver_;
  Contact contact_;
  Admit admit_;
  std::mutex mu_;
  bool stopped_ = false;
  std::vector<grpc::CallbackServerContext*> open_;
};

}  // namespace nomad::transport
