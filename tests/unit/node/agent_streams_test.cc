// The leader's agent streams (api::AgentStreams) over gRPC on 127.0.0.1: an ack's index that
// entries changing no job reach is delivered as soon as the apply path says it is applied
// (AgentStreams::applied), and the stream's thread sleeps while the index is not reached; the
// agents whose streams are open are handed to the node as they come and go.

#include "api/agent_streams.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/auth.h"
#include "api/peer_gate.h"
#include "jobs/job_store.h"
#include "proto/nomad_lite.grpc.pb.h"

namespace nomad {
namespace {

using namespace std::chrono_literals;

// Long enough that only a notification, never the leadership recheck, wakes the thread here.
constexpr auto kNoLeaderRecheck = std::chrono::hours(1);

// The leader's applied job store, as the node loop keeps it: entries apply under a lock and
// the streams hear of each applied index.
class AppliedStore {
 public:
  // Applies an entry that registers a new agent (and changes no job); returns the agent's id.
  uint64_t register_agent(const std::string& name) {
    nomad_lite::Command c;
    c.mutable_agent_registered()->set_name(name);
    c.mutable_agent_registered()->set_address("127.0.0.1:1");
    c.mutable_agent_registered()->set_id_floor(100);
    std::lock_guard lock(mu_);
    ++index_;
    return store_.apply(raft::Entry{1, index_, raft::EntryType::kNormal, c.SerializeAsString()})
        .agent_id;
  }

  uint64_t index() const {
    std::lock_guard lock(mu_);
    return index_;
  }

  int reads() const { return reads_.load(); }

  // With `tell_connected`, the streams hand over the open agents every 50 ms (connected()).
  api::AgentStreams::Source source(bool tell_connected) {
    api::AgentStreams::Source source{
        .read =
            [this](const std::function<void(const jobs::JobStore&, uint64_t)>& read) {
              ++reads_;
              std::lock_guard lock(mu_);
              read(store_, index_);
            },
        .is_leader = [] { return true; },
        .term = [] { return uint64_t{1}; }};
    if (tell_connected) {
      source.connected = [this](std::vector<uint64_t> agents) {
        std::lock_guard lock(mu_);
        connected_.push_back(std::move(agents));
      };
      source.connected_every = 50ms;
    }
    return source;
  }

  // Every list of open agents the streams handed over so far.
  std::vector<std::vector<uint64_t>> connected() const {
    std::lock_guard lock(mu_);
    return connected_;
  }

 private:
  mutable std::mutex mu_;
  jobs::JobStore store_;
  uint64_t index_ = 0;
  std::atomic<int> reads_{0};
  std::vector<std::vector<uint64_t>> connected_;
};

class StreamsService final : public nomad_lite::InternalService::WithRawCallbackMethod_AgentStream<
                                 nomad_lite::InternalService::Service> {
 public:
  explicit StreamsService(api::AgentStreams& streams) : streams_(streams) {}
  grpc::ServerWriteReactor<grpc::ByteBuffer>* AgentStream(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override {
    return streams_.open(context, request);
  }

 private:
  api::AgentStreams& streams_;
};

// An agent's end of its stream: the updates it received, read on a thread of its own.
class AgentEnd {
 public:
  AgentEnd(const std::string& address, uint64_t agent)
      : stub_(nomad_lite::InternalService::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {
    nomad_lite::AgentStreamRequest request;
    request.set_agent_id(agent);
    reader_ = stub_->AgentStream(&context_, request);
    thread_ = std::thread([this] {
      nomad_lite::AgentUpdate update;
      while (reader_->Read(&update)) {
        std::lock_guard lock(mu_);
        updates_.push_back(update);
        cv_.notify_all();
      }
    });
  }
  ~AgentEnd() {
    context_.TryCancel();
    thread_.join();
  }

  // Whether an update reflecting applied index `index` or later arrives within `within`.
  bool wait_for_index(uint64_t index, std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, within, [&] {
      return !updates_.empty() && updates_.back().applied_index() >= index;
    });
  }

 private:
  std::unique_ptr<nomad_lite::InternalService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<nomad_lite::AgentUpdate>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nomad_lite::AgentUpdate> updates_;
};

class AgentStreamsTest : public ::testing::Test {
 protected:
  explicit AgentStreamsTest(bool tell_connected = false)
      : gate_(false, auth_), streams_(store_.source(tell_connected), gate_, kNoLeaderRecheck) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  ~AgentStreamsTest() override {
    streams_.stop();
    server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }

  // Applies an entry that changes no job of any open stream, and tells the streams.
  void apply_entry_changing_no_job() {
    store_.register_agent("other-" + std::to_string(store_.index()));
    streams_.applied(store_.index());
  }

  // Whether `condition` holds within `within`, looked at every millisecond.
  template <class F>
  static bool within(std::chrono::milliseconds within, F condition) {
    auto deadline = std::chrono::steady_clock::now() + within;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  AppliedStore store_;
  api::Authenticator auth_;
  api::PeerGate gate_;
  api::AgentStreams streams_;
  StreamsService service_{streams_};
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(AgentStreamsTest, AnAckedIndexReachedByEntriesChangingNoJobIsDeliveredWhenApplied) {
  uint64_t agent = store_.register_agent("agent");
  AgentEnd end(address_, agent);
  ASSERT_TRUE(end.wait_for_index(store_.index())) << "the full update did not arrive";
  ASSERT_TRUE(within(5s, [&] { return streams_.open_streams() == 1; }));

  // The ack names two entries further; neither changes a job of the agent's.
  const uint64_t acked = store_.index() + 2;
  streams_.acked(agent, acked);
  apply_entry_changing_no_job();
  apply_entry_changing_no_job();
  ASSERT_EQ(store_.index(), acked);
  // No job changed and the leadership recheck is an hour away: only applied() can wake the
  // stream's thread.
  EXPECT_TRUE(end.wait_for_index(acked)) << "the index-only update did not arrive";
}

TEST_F(AgentStreamsTest, AnAckWaitingForAnIndexNotYetAppliedLeavesTheThreadAsleep) {
  uint64_t agent = store_.register_agent("agent");
  AgentEnd end(address_, agent);
  ASSERT_TRUE(end.wait_for_index(store_.index()));

  // The ack wakes the thread once (its index may be applied already: it is not).
  const int reads_before = store_.reads();
  const uint64_t acked = store_.index() + 3;
  streams_.acked(agent, acked);
  ASSERT_TRUE(within(5s, [&] { return store_.reads() == reads_before + 1; }));

  // Entries short of the ack's index wake nothing: the store is not read again meanwhile (a
  // thread that polled every few milliseconds would have read it tens of times).
  apply_entry_changing_no_job();
  apply_entry_changing_no_job();
  EXPECT_FALSE(within(100ms, [&] { return store_.reads() > reads_before + 1; }));

  apply_entry_changing_no_job();
  EXPECT_TRUE(end.wait_for_index(acked));
}

class AgentStreamsConnectedTest : public AgentStreamsTest {
 protected:
  AgentStreamsConnectedTest() : AgentStreamsTest(true) {}

  // Whether the newest list of open agents handed over is `expected`.
  bool newest_is(const std::vector<uint64_t>& expected) const {
    auto lists = store_.connected();
    return !lists.empty() && lists.back() == expected;
  }
};

TEST_F(AgentStreamsConnectedTest, TheAgentsWithAnOpenStreamAreHandedOverUntilTheirStreamsEnd) {
  const uint64_t first = store_.register_agent("first");
  const uint64_t second = store_.register_agent("second");
  EXPECT_TRUE(store_.connected().empty()) << "no stream is open yet";
  auto first_end = std::make_unique<AgentEnd>(address_, first);
  AgentEnd second_end(address_, second);
  ASSERT_TRUE(first_end->wait_for_index(store_.index()));
  ASSERT_TRUE(second_end.wait_for_index(store_.index()));
  // Told again and again (every 50 ms here), though the leadership recheck is an hour away.
  EXPECT_TRUE(within(5s, [&] { return newest_is({first, second}); }));
  const size_t told = store_.connected().size();
  EXPECT_TRUE(within(5s, [&] { return store_.connected().size() >= told + 3; }));

  // The first agent's stream ends (its process died): it is no longer named.
  first_end.reset();
  EXPECT_TRUE(within(5s, [&] { return newest_is({second}); }))
      << "still named after its stream ended";
}

}  // namespace
}  // namespace nomad
