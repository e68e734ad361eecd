// A node-to-node stream (InternalClient's output stream from another node) ends when its
// connection goes mute, and the node is read from again as soon as the partition heals:
// through the black-holing TCP proxy of tcp_proxy.h.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "proto/nomad_lite.grpc.pb.h"
#include "tcp_proxy.h"
#include "transport/channel_args.h"
#include "transport/internal_client.h"
#include "transport/security.h"

namespace nomad {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::TcpProxy;

// Sends one chunk, then keeps the stream open (as a followed output with nothing new) until
// the call is cancelled.
class HeldLogStream final : public grpc::ServerWriteReactor<nomad_lite::LogChunk> {
 public:
  HeldLogStream() {
    chunk_.set_data("hello\n");
    StartWrite(&chunk_);
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    written_ = true;
    if (!ok || cancelled_) Finish(grpc::Status::CANCELLED);
  }
  void OnCancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (written_) Finish(grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 private:
  nomad_lite::LogChunk chunk_;
  std::mutex mu_;
  bool written_ = false;
  bool cancelled_ = false;
};

class FakeLogNode final : public nomad_lite::InternalService::CallbackService {
 public:
  FakeLogNode() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", transport::server_credentials({}), &port_);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    transport::add_server_connection_arguments(builder);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) throw std::runtime_error("cannot start a gRPC server");
  }
  ~FakeLogNode() override { server_->Shutdown(std::chrono::system_clock::now() + 2s); }

  grpc::ServerWriteReactor<nomad_lite::LogChunk>* StreamLogs(
      grpc::CallbackServerContext*, const nomad_lite::JobLogsRequest*) override {
    ++streams;
    return new HeldLogStream();
  }

  uint16_t port() const { return static_cast<uint16_t>(port_); }
  std::atomic<int> streams{0};

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// Reads the first chunk of a new output stream; false if none came.
bool first_chunk(transport::InternalClient& client, const std::string& address,
                 grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + 2s);
  auto reader = client.stream_logs(address, context, nomad_lite::JobLogsRequest());
  nomad_lite::LogChunk chunk;
  bool ok = reader->Read(&chunk) && chunk.data() == "hello\n";
  context->TryCancel();
  reader->Finish();
  return ok;
}

TEST(InternalClientReconnect, AnOutputStreamEndsWhenItsConnectionGoesMuteAndResumesAfterTheHeal) {
  FakeLogNode node;
  TcpProxy proxy(node.port());
  const std::string address = "127.0.0.1:" + std::to_string(proxy.port());
  transport::InternalClient client;

  grpc::ClientContext context;  // no deadline: only the keepalive can end this stream
  auto reader = client.stream_logs(address, &context, nomad_lite::JobLogsRequest());
  nomad_lite::LogChunk chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  EXPECT_EQ(chunk.data(), "hello\n");

  // A guard, so that a stream that never ends fails the test instead of hanging it.
  std::atomic<bool> guard_fired{false}, read_returned{false};
  std::thread guard([&] {
    const auto give_up = Clock::now() + 10s;
    while (!read_returned && Clock::now() < give_up) std::this_thread::sleep_for(10ms);
    if (!read_returned) {
      guard_fired = true;
      context.TryCancel();
    }
  });

  const auto cut = Clock::now();
  proxy.black_hole();
  const bool more = reader->Read(&chunk);
  const double ended_after = std::chrono::duration<double>(Clock::now() - cut).count();
  read_returned = true;
  guard.join();
  EXPECT_FALSE(more);
  EXPECT_FALSE(guard_fired) << "the stream did not end within 10 s of the cut";
  EXPECT_LE(ended_after, 3.0);
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);

  // Calls during the partition fail, for long enough that the reconnect backoff reaches its
  // cap.
  const auto partition_ends = Clock::now() + 3s;
  while (Clock::now() < partition_ends) {
    grpc::ClientContext attempt;
    EXPECT_FALSE(first_chunk(client, address, &attempt)) << "a call crossed the black hole";
  }
  EXPECT_GE(proxy.accepted(), 2) << "the channel did not redial";

  const auto healed = Clock::now();
  proxy.heal();
  bool read_again = false;
  while (!read_again && Clock::now() - healed < 3s) {
    grpc::ClientContext attempt;
    read_again = first_chunk(client, address, &attempt);
  }
  const double resumed_after = std::chrono::duration<double>(Clock::now() - healed).count();
  ASSERT_TRUE(read_again) << "no output stream within 3 s of the heal";
  // An attempt made into the hole just before the heal waits out its connect timeout
  // (kConnectTimeout, 1 s) before the channel dials again: measured 1.00 s, and a loaded
  // machine needs room on top.
  EXPECT_LE(resumed_after, 2.0);
  std::printf("output stream ended %.2f s after the cut; read again %.2f s after the heal\n",
              ended_after, resumed_after);
}

}  // namespace
}  // namespace nomad
