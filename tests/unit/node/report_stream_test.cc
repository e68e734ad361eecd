// Worker reports on a long-lived stream: the worker's end (InternalClient::stream_report) and
// the leader's (api::ReportStreams), over gRPC on 127.0.0.1.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/auth.h"
#include "api/peer_gate.h"
#include "api/report_streams.h"
#include "proto/nomad_lite.grpc.pb.h"
#include "transport/internal_client.h"

namespace nomad {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// With these an ack takes 25 bytes, more than gRPC keeps inline in a slice (23).
constexpr uint64_t kTerm = uint64_t{1} << 63;
constexpr uint64_t kIndexBase = uint64_t{1} << 62;

// A leader's InternalService: ReportStream through api::ReportStreams.
class FakeLeader final : public nomad_lite::InternalService::WithRawCallbackMethod_ReportStream<
                             nomad_lite::InternalService::Service> {
 public:
  FakeLeader()
      : gate_(false, auth_),
        streams_({[this] { return leading.load(); },
                  [this](nomad_lite::WorkerReport r, api::AckFn ack) {
                    deliver(r);
                    ack(ack_of(r));
                  },
                  {}},
                 gate_) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ReportStream(
      grpc::CallbackServerContext* context) override {
    ++streams_opened;
    return streams_.open(context);
  }

  // The sequence numbers (carried in `slots`) of the reports delivered, once there are `n`
  // (fewer if `within` passes first).
  std::vector<uint32_t> wait_for(size_t n, std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, within, [&] { return delivered_.size() >= n; });
    return delivered_;
  }

  void stop() { streams_.stop(); }

  // As the node loop answers: the report's seq, term kTerm, last index kIndexBase + seq (an
  // ack longer than gRPC's inline slice: encoding it must not reuse the previous ack's buffer).
  nomad_lite::WorkerReportAck ack_of(const nomad_lite::WorkerReport& r) const {
    nomad_lite::WorkerReportAck ack;
    ack.set_leader(leading);
    ack.set_seq(r.seq());
    if (leading) {
      ack.set_term(kTerm);
      ack.set_last_index(kIndexBase + r.seq());
    }
    return ack;
  }

  std::atomic<bool> leading{true};
  std::atomic<int> streams_opened{0};

 private:
  void deliver(const nomad_lite::WorkerReport& r) {
    std::lock_guard lock(mu_);
    delivered_.push_back(r.slots());
    cv_.notify_all();
  }

  api::Authenticator auth_;
  api::PeerGate gate_;
  api::ReportStreams streams_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint32_t> delivered_;
};

struct Server {
  Server() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&leader);
    server = builder.BuildAndStart();
    address = "127.0.0.1:" + std::to_string(port);
  }
  ~Server() {
    leader.stop();
    server->Shutdown(std::chrono::system_clock::now() + 1s);
  }
  FakeLeader leader;
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

nomad_lite::WorkerReport report(uint32_t sequence) {
  nomad_lite::WorkerReport r;
  r.set_node_id(2);
  r.set_slots(sequence);
  r.set_seq(sequence);
  return r;
}

// The acks a client's handler received.
struct Acks {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<nomad_lite::WorkerReportAck> got;

  void attach(transport::InternalClient& client) {
    client.set_report_ack_handler([this](const nomad_lite::WorkerReportAck& a) {
      std::lock_guard lock(mu);
      got.push_back(a);
      cv.notify_all();
    });
  }
  // The acks once one for `seq` is among them (or at the deadline).
  std::vector<nomad_lite::WorkerReportAck> wait_for_seq(uint64_t seq) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] {
      for (const auto& a : got) {
        if (a.seq() == seq) return true;
      }
      return false;
    });
    return got;
  }
};

// Sends reports numbered from `first` until one of them is delivered (at most 200, 5 s);
// returns the first delivered, or 0.
uint32_t send_until_delivered(transport::InternalClient& client, Server& s, uint32_t first) {
  size_t before = s.leader.wait_for(0, 0ms).size();
  auto deadline = Clock::now() + 5s;
  for (uint32_t seq = first; seq < first + 200 && Clock::now() < deadline; ++seq) {
    client.stream_report(s.address, report(seq), 1s);
    auto got = s.leader.wait_for(before + 1, 25ms);
    if (got.size() > before) return got[before];
  }
  return 0;
}

TEST(ReportStream, ReportsArriveInOrderOnOneStream) {
  Server s;
  transport::InternalClient client;
  for (uint32_t i = 1; i <= 20; ++i) ASSERT_TRUE(client.stream_report(s.address, report(i), 1s));
  auto got = s.leader.wait_for(20);
  ASSERT_EQ(got.size(), 20u);
  for (uint32_t i = 1; i <= 20; ++i) EXPECT_EQ(got[i - 1], i);
  EXPECT_EQ(s.leader.streams_opened, 1);
}

TEST(ReportStream, TheLeaderAcksReportsOnTheStreamWithItsTermAndIndex) {
  Server s;
  transport::InternalClient client;
  Acks acks;
  acks.attach(client);
  for (uint32_t i = 1; i <= 20; ++i) ASSERT_TRUE(client.stream_report(s.address, report(i), 1s));
  auto got = acks.wait_for_seq(20);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().seq(), 20u) << "the newest ack comes last";
  uint64_t previous = 0;
  for (const auto& a : got) {
    EXPECT_TRUE(a.leader());
    EXPECT_EQ(a.term(), kTerm);
    EXPECT_EQ(a.last_index(), kIndexBase + a.seq());
    EXPECT_GT(a.seq(), previous) << "acks out of order (coalescing keeps only newer ones)";
    previous = a.seq();
  }
}

TEST(ReportStream, ALeaderThatStepsDownEndsTheStreamAndANewOneIsOpened) {
  Server s;
  transport::InternalClient client;
  ASSERT_TRUE(client.stream_report(s.address, report(1), 1s));
  ASSERT_EQ(s.leader.wait_for(1).size(), 1u);
  s.leader.leading = false;
  client.stream_report(s.address, report(2), 1s);  // read and dropped: the stream ends
  // Leading again (as a re-elected node would be): later reports go on a fresh stream.
  ASSERT_EQ(s.leader.wait_for(2, 200ms).size(), 1u) << "a report reached a non-leader";
  s.leader.leading = true;
  uint32_t first = send_until_delivered(client, s, 3);
  EXPECT_GE(first, 3u);
  EXPECT_EQ(s.leader.streams_opened, 2);
  EXPECT_EQ(s.leader.wait_for(2).front(), 1u);
}

TEST(ReportStream, AnInterruptedStreamIsReplacedByTheNextReport) {
  Server s;
  transport::InternalClient client;
  ASSERT_TRUE(client.stream_report(s.address, report(1), 1s));
  ASSERT_EQ(s.leader.wait_for(1).size(), 1u);  // a cancel may drop what is not sent yet
  client.interrupt_report_stream();
  ASSERT_TRUE(client.stream_report(s.address, report(2), 1s));
  auto got = s.leader.wait_for(2);
  ASSERT_EQ(got.size(), 2u) << "streams opened: " << s.leader.streams_opened;
  EXPECT_EQ(got[1], 2u);
  EXPECT_EQ(s.leader.streams_opened, 2);
}

TEST(ReportStream, StoppingEndsOpenStreamsSoShutdownDoesNotWaitForThem) {
  auto s = std::make_unique<Server>();
  transport::InternalClient client;
  ASSERT_TRUE(client.stream_report(s->address, report(1), 1s));
  ASSERT_EQ(s->leader.wait_for(1).size(), 1u);
  auto start = Clock::now();
  s->leader.stop();
  s->server->Shutdown(std::chrono::system_clock::now() + 10s);
  EXPECT_LT(Clock::now() - start, 5s) << "Shutdown waited for the open stream's deadline";
  std::string address = s->address;
  s.reset();
  // The worker's next report finds no leader there, and says so.
  EXPECT_FALSE(client.stream_report(address, report(2), 200ms));
}

}  // namespace
}  // namespace nomad

namespace nomad {
namespace {

nomad_lite::WorkerReport report_of(uint64_t sender, std::vector<uint64_t> finished_named) {
  nomad_lite::WorkerReport r;
  r.set_node_id(sender);
  for (size_t i = 0; i < finished_named.size(); ++i) {
    auto* f = r.add_finished();
    f->set_job_id("job-" + std::to_string(i));
    f->set_attempt(1);
    f->set_node_id(finished_named[i]);
  }
  return r;
}

TEST(CheckReportSender, AReportMadeOnlyOfAnotherNodesAttemptsIsRefused) {
  grpc::Status s = api::check_report_sender(2, report_of(2, {1}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "node 2 reported on attempts of other nodes only (job job-0 on node 1): a node "
            "reports only its own");
  // Without a certificate to prove the sender, the report's own node_id is the sender.
  EXPECT_EQ(api::check_report_sender(0, report_of(2, {1, 3})).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  nomad_lite::WorkerReport started;
  started.set_node_id(2);
  started.add_started()->set_node_id(1);
  EXPECT_EQ(api::check_report_sender(2, started).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST(CheckReportSender, OwnEntriesPassAndMixedReportsAreLeftToTheLoopToFilter) {
  EXPECT_TRUE(api::check_report_sender(2, report_of(2, {})).ok());
  EXPECT_TRUE(api::check_report_sender(2, report_of(2, {2, 2})).ok());
  EXPECT_TRUE(api::check_report_sender(2, report_of(2, {2, 1})).ok());
  EXPECT_EQ(api::check_report_sender(3, report_of(2, {2})).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);  // the certificate is another node's
}

}  // namespace
}  // namespace nomad
