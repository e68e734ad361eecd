// Oversized and malformed gRPC requests against a real node: it refuses them with a clear
// status, its memory does not grow with them, its answers stay small, and SIGTERM still stops
// it within two seconds afterwards.

#include <gtest/gtest.h>

#include <fstream>

#include "cluster_harness.h"

namespace nomad::testing {
namespace {

using grpc::StatusCode;

// A client that sends and receives messages of any size (gRPC's default client refuses to
// receive more than 4 MiB).
std::unique_ptr<nomad_lite::SchedulerService::Stub> unlimited_stub(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials()) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, -1);
  return nomad_lite::SchedulerService::NewStub(
      grpc::CreateCustomChannel(address, credentials, args));
}

// gRPC's default client, as most programs use it.
[[maybe_unused]] std::unique_ptr<nomad_lite::SchedulerService::Stub> default_stub(
    const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return nomad_lite::SchedulerService::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

std::unique_ptr<grpc::ClientContext> context(std::chrono::milliseconds timeout = 10s) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

// Sends SIGTERM and waits up to `limit` for the process to exit; returns how long it took, or
// nullopt (and SIGKILLs it) when it did not exit in time.
std::optional<std::chrono::milliseconds> sigterm_and_time(TestCluster& c, uint64_t id,
                                                          std::chrono::milliseconds limit,
                                                          int* status) {
  pid_t pid = c.member(id).pid;
  auto sent = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  bool exited = wait_until([&] { return waitpid(pid, status, WNOHANG) == pid; }, limit);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - sent);
  if (exited) {
    c.member(id).pid = -1;
    return took;
  }
  c.kill(id, SIGKILL);
  return std::nullopt;
}

// The node's resident memory in KiB (/proc/PID/status VmRSS), or -1.
long rss_kib(pid_t pid) {
  std::string status = read_text("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("VmRSS:");
  if (at == std::string::npos) return -1;
  return std::strtol(status.c_str() + at + 6, nullptr, 10);
}

// A 64 MiB SubmitJob without a token, with TLS (the secure recipe): refused from its metadata
// before the message is read. It once took the node from 86 to 267 MiB.
TEST(Limits, A64MiBSubmissionWithoutATokenIsRefusedWithoutGrowingTheNode) {
  TestCluster c(1);
  c.enable_security(/*export_to_cli=*/false);
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);
  std::string pki = c.pki_dir();
  auto stub = unlimited_stub(c.member(1).address(),
                             TestCluster::tls_credentials(pki + "/ca.pem", pki + "/client.pem",
                                                          pki + "/client-key.pem", ""));
  nomad_lite::SubmitJobRequest req;
  req.set_command("echo " + std::string(64 << 20, 'x'));
  pid_t pid = c.member(1).pid;
  long before = rss_kib(pid);
  ASSERT_GT(before, 0);
  for (int i = 0; i < 3; ++i) {
    nomad_lite::SubmitJobResponse resp;
    grpc::Status s = stub->SubmitJob(context().get(), req, &resp);
    EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  long after = rss_kib(pid);
  EXPECT_LT(after - before, 8 * 1024) << "RSS went from " << before << " to " << after << " KiB";
  // The node still answers.
  EXPECT_TRUE(c.status(1).has_value());
}

// A client request is held to 256 KiB, every message to 16 MiB; either refusal names its limit.
TEST(Limits, OversizedRequestsAreRefusedNamingTheLimit) {
  TestCluster c(1);
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);
  auto stub = unlimited_stub(c.member(1).address());
  pid_t pid = c.member(1).pid;
  {
    nomad_lite::GetJobStatusRequest req;
    req.set_job_id(std::string(1 << 20, 'x'));
    nomad_lite::GetJobStatusResponse resp;
    grpc::Status s = stub->GetJobStatus(context().get(), req, &resp);
    EXPECT_EQ(s.error_code(), StatusCode::RESOURCE_EXHAUSTED) << s.error_message().substr(0, 200);
    EXPECT_NE(s.error_message().find("262144"), std::string::npos)
        << s.error_message().substr(0, 200);
  }
  long before = rss_kib(pid);
  for (int i = 0; i < 3; ++i) {
    nomad_lite::SubmitJobRequest req;
    req.set_command(std::string(64 << 20, 'x'));
    nomad_lite::SubmitJobResponse resp;
    grpc::Status s = stub->SubmitJob(context().get(), req, &resp);
    EXPECT_EQ(s.error_code(), StatusCode::RESOURCE_EXHAUSTED) << s.error_message().substr(0, 200);
    EXPECT_NE(s.error_message().find("16777216"), std::string::npos)
        << s.error_message().substr(0, 200);
  }
  // gRPC 1.51 reads a whole message before it compares its size with the limit, so this is
  // a figure to report, not a bound to assert (with TLS, see the test above, it is).
  long after = rss_kib(pid);
  std::printf("RSS around three 64 MiB requests without TLS: %ld -> %ld KiB\n", before, after);
  EXPECT_TRUE(c.status(1).has_value());
}

// A status message echoing a 64 MiB job id once stalled on a client that did not read it, and
// grpc::Server::Shutdown then waited for that call forever.
TEST(Limits, SigtermStopsANodeWithinTwoSecondsAfterAHugeRequest) {
  TestCluster c(1);
  c.start_all();
  ASSERT_NE(c.wait_for_leader(), 0u);
  auto stub = unlimited_stub(c.member(1).address());
  {
    nomad_lite::GetJobStatusRequest req;
    req.set_job_id(std::string(64 << 20, 'x'));
    nomad_lite::GetJobStatusResponse resp;
    grpc::Status s = stub->GetJobStatus(context().get(), req, &resp);
    EXPECT_FALSE(s.ok());
  }
  c.close_clients();
  int status = 0;
  auto took = sigterm_and_time(c, 1, 5s, &status);
  ASSERT_TRUE(took.has_value()) << "the node did not exit within 5 s of SIGTERM; log:\n"
                                << read_text(c.member(1).log).substr(0, 4000);
  EXPECT_LT(*took, 2000ms);
  EXPECT_TRUE(WIFEXITED(status)) << status;
}

}  // namespace
}  // namespace nomad::testing
