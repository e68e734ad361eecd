// Connections between nodes notice a partition and come back fast: through a TCP proxy on
// 127.0.0.1 that can black-hole its connections (open, but no byte forwarded: what a
// partition looks like to TCP), the Raft peer transport and a node-to-node channel are
// checked against gRPC's keepalive settings (transport/channel_args.h) and the peer
// stream's write watchdog.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proto/nomad_lite.grpc.pb.h"
#include "tcp_proxy.h"
#include "transport/channel_args.h"
#include "transport/peer_transport.h"
#include "transport/security.h"

namespace nomad {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::TcpProxy;

constexpr raft::NodeId kClientNode = 1;
constexpr raft::NodeId kServerNode = 2;

// Polls `condition` every 10 ms until it holds or `within` passes; true if it held.
template <class Condition>
bool wait_until(Condition condition, Clock::duration within) {
  const auto deadline = Clock::now() + within;
  while (!condition()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A node's RaftService on 127.0.0.1, configured as the node configures it, that counts what
// arrives. Messages of term `blocked_term` wait in delivery until release(): a node that
// stopped reading its peer's stream.
class RaftServer {
 public:
  explicit RaftServer(raft::Term blocked_term = 0)
      : blocked_term_(blocked_term),
        service_([this](raft::Message m) { deliver(m); }, [this](raft::NodeId) { ++contacts; },
                 [this](const grpc::ServerContextBase&, raft::NodeId* proven) {
                   *proven = 0;
                   ++streams;
                   return grpc::Status::OK;
                 }) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", transport::server_credentials({}), &port_);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    transport::add_server_connection_arguments(builder);
    builder.SetMaxReceiveMessageSize(256 << 20);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) throw std::runtime_error("cannot start a gRPC server");
  }

  ~RaftServer() {
    release();
    service_.stop();
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }

  uint16_t port() const { return static_cast<uint16_t>(port_); }

  void release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

  std::atomic<int> contacts{0};  // batches, keepalives included
  std::atomic<int> messages{0};  // messages delivered
  std::atomic<int> streams{0};   // streams opened
  std::atomic<raft::Term> highest_term{0};

 private:
  void deliver(const raft::Message& m) {
    if (m.term == blocked_term_ && blocked_term_ != 0) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return released_; });
    }
    ++messages;
    raft::Term seen = highest_term.load();
    while (m.term > seen && !highest_term.compare_exchange_weak(seen, m.term)) {
    }
  }

  const raft::Term blocked_term_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  transport::RaftServiceImpl service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

raft::Message heartbeat(raft::Term term) {
  raft::Message m;
  m.type = raft::MessageType::kHeartbeat;
  m.from = kClientNode;
  m.to = kServerNode;
  m.term = term;
  return m;
}

// `count` messages of `bytes` bytes each (snapshot chunks: the payload is opaque here).
std::vector<raft::Message> payload(raft::Term term, int count, size_t bytes) {
  std::vector<raft::Message> out;
  for (int i = 0; i < count; ++i) {
    raft::Message m;
    m.type = raft::MessageType::kSnapshot;
    m.from = kClientNode;
    m.to = kServerNode;
    m.term = term;
    m.offset = static_cast<uint64_t>(i) * bytes;
    m.chunk.assign(bytes, 'x');
    out.push_back(std::move(m));
  }
  return out;
}

std::unique_ptr<transport::PeerTransport> peer_transport_to(uint16_t port) {
  return std::make_unique<transport::PeerTransport>(
      kClientNode, std::vector<PeerAddress>{{kServerNode, "127.0.0.1", port}});
}

// Sends a heartbeat of `term` every 50 ms, as the Raft core would resend, until the server
// has one; the seconds that took, or a negative number after `within`.
double deliver_within(transport::PeerTransport& transport, RaftServer& server, raft::Term term,
                      Clock::duration within) {
  const auto start = Clock::now();
  auto next_send = start;
  bool delivered = wait_until(
      [&] {
        if (server.highest_term >= term) return true;
        if (Clock::now() >= next_send) {
          transport.send({heartbeat(term)});
          next_send += 50ms;
        }
        return false;
      },
      within);
  return delivered ? seconds_since(start) : -1;
}

TEST(PeerReconnect, AMuteConnectionIsClosedByBothEndsAndRedialledAboutASecondAfterTheHeal) {
  RaftServer server;
  TcpProxy proxy(server.port());
  auto transport = peer_transport_to(proxy.port());
  transport->start();
  ASSERT_GT(deliver_within(*transport, server, 1, 5s), 0) << "no message got through";
  ASSERT_EQ(proxy.accepted(), 1);

  const auto cut = Clock::now();
  proxy.black_hole();
  // The client's pings go unanswered: it closes the connection and redials (into the hole).
  ASSERT_TRUE(wait_until([&] { return proxy.muted_closed_by_client() >= 1; }, 5s));
  const double client_noticed = seconds_since(cut);
  // The server pings its vanished client too (less often), and ends its stream.
  const auto server_bound = transport::kServerKeepaliveTime + transport::kKeepaliveTimeout;
  ASSERT_TRUE(wait_until([&] { return proxy.muted_closed_by_target() >= 1; }, server_bound + 3s));
  const double server_noticed = seconds_since(cut);
  EXPECT_LE(client_noticed, 3.0);
  EXPECT_LE(server_noticed, std::chrono::duration<double>(server_bound).count() + 1.5);
  EXPECT_TRUE(wait_until([&] { return proxy.accepted() >= 2; }, 2s)) << "no new connection";

  // Stay cut off long enough for the reconnect backoff to reach its cap; nothing gets through.
  const int contacts_before = server.contacts;
  EXPECT_FALSE(wait_until([&] { return server.contacts > contacts_before; }, 3s))
      << "a message crossed the black hole";

  proxy.heal();
  const double healed_after = deliver_within(*transport, server, 2, 3s);
  ASSERT_GT(healed_after, 0) << "no message got through within 3 s of the heal";
  // An attempt made into the hole gives up after kConnectTimeout (1 s), the next comes within
  // the backoff's 300 ms (plus 20% jitter): at most about 1.4 s, with room for a loaded machine.
  EXPECT_LE(healed_after, 2.0);
  std::printf(
      "mute connection closed after %.2f s (client) and %.2f s (server); messages flow "
      "again %.2f s after the heal\n",
      client_noticed, server_noticed, healed_after);
  transport->stop();
}

TEST(Keepalive, IdleConnectionsStayUpForFiveSeconds) {
  RaftServer server;
  TcpProxy peer_proxy(server.port());
  TcpProxy channel_proxy(server.port());
  auto transport = peer_transport_to(peer_proxy.port());
  transport->start();
  // A node-to-node channel with no call at all: only pings cross it.
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(channel_proxy.port()),
                                           transport::channel_credentials(),
                                           transport::node_channel_arguments());
  ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + 5s));
  ASSERT_GT(deliver_within(*transport, server, 1, 5s), 0);
  const int streams = server.streams;

  // Every ~1 s both ends ping; a server that took that for abuse would answer GOAWAY
  // "too_many_pings" and the channel would leave READY.
  const auto start = Clock::now();
  bool left_ready = wait_until([&] { return channel->GetState(false) != GRPC_CHANNEL_READY; }, 5s);
  EXPECT_FALSE(left_ready) << "the idle channel left READY after " << seconds_since(start) << " s";
  EXPECT_EQ(channel_proxy.accepted(), 1);
  EXPECT_EQ(peer_proxy.accepted(), 1) << "the peer transport redialled";
  EXPECT_EQ(server.streams, streams) << "the peer stream was replaced";
  EXPECT_GT(deliver_within(*transport, server, 2, 1s), 0);
  transport->stop();
}

TEST(PeerReconnect, AStreamUnderLoadIsNotReplaced) {
  RaftServer server;
  TcpProxy proxy(server.port());
  auto transport = peer_transport_to(proxy.port());
  transport->start();
  ASSERT_GT(deliver_within(*transport, server, 1, 5s), 0);
  const int streams = server.streams;
  const int before = server.messages;

  // 20 MiB in 1 KiB messages, at most 2,000 ahead of the receiver (the transport drops
  // beyond 10,000 queued), bounded to 30 s.
  constexpr int kRounds = 200, kPerRound = 100;
  const auto deadline = Clock::now() + 30s;
  for (int round = 0; round < kRounds && Clock::now() < deadline; ++round) {
    wait_until([&] { return (round * kPerRound) - (server.messages - before) < 2000; }, 10s);
    transport->send(payload(1, kPerRound, 1024));
  }
  EXPECT_TRUE(wait_until([&] { return server.messages - before >= kRounds * kPerRound; }, 10s))
      << "delivered " << server.messages - before << " of " << kRounds * kPerRound;
  EXPECT_EQ(server.streams, streams) << "a healthy stream was cancelled";
  EXPECT_EQ(proxy.accepted(), 1);
  transport->stop();
}

TEST(PeerReconnect, AWriteThatMakesNoProgressGetsANewStream) {
  RaftServer server(/*blocked_term=*/7);
  auto transport = peer_transport_to(server.port());
  transport->start();
  ASSERT_GT(deliver_within(*transport, server, 1, 5s), 0);
  ASSERT_EQ(server.streams, 1);

  // The server stops reading this stream at the first message of term 7; the rest fill the
  // stream's flow-control window and the write in flight waits.
  const auto stalled = Clock::now();
  for (int i = 0; i < 10; ++i) transport->send(payload(7, 100, 1024));
  ASSERT_TRUE(wait_until([&] { return server.streams >= 2; }, 5s)) << "no new stream";
  const double replaced_after = seconds_since(stalled);
  EXPECT_GE(replaced_after, 0.9);  // not before the watchdog's limit
  EXPECT_LE(replaced_after, 2.5);
  EXPECT_GT(deliver_within(*transport, server, 8, 2s), 0) << "nothing flows on the new stream";
  server.release();
  transport->stop();
}

}  // namespace
}  // namespace nomad
