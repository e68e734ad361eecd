// server/health_status.h: which grpc.health.v1 statuses a node reports, on a fake setter and on
// a real in-process gRPC server asked with hand-encoded messages (no health proto needed).

#include "server/health_status.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>

#include "api/token_gate.h"

namespace nomad::server {
namespace {

using namespace std::chrono_literals;

struct Recorder {
  std::map<std::string, bool> status;
  int calls = 0;
  HealthStatus::SetStatus setter() {
    return [this](const std::string& name, bool serving) {
      status[name] = serving;
      ++calls;
    };
  }
};

TEST(HealthStatus, ClientServicesFollowTheLeaderAndPeerServicesServeWhileRunning) {
  Recorder r;
  HealthStatus health(r.setter());
  EXPECT_EQ(r.status, (std::map<std::string, bool>{{"", false},
                                                   {"nomad_lite.SchedulerService", false},
                                                   {"nomad_lite.RaftService", true},
                                                   {"nomad_lite.InternalService", true}}));
  health.leader_known(true);
  EXPECT_TRUE(r.status[""]);
  EXPECT_TRUE(r.status["nomad_lite.SchedulerService"]);
  health.leader_known(false);
  EXPECT_FALSE(r.status[""]);
  EXPECT_FALSE(r.status["nomad_lite.SchedulerService"]);
  EXPECT_TRUE(r.status["nomad_lite.RaftService"]);  // needed to elect the next leader
}

TEST(HealthStatus, PassesOnOnlyChanges) {
  Recorder r;
  HealthStatus health(r.setter());
  const int initial = r.calls;
  health.leader_known(false);  // already so
  EXPECT_EQ(r.calls, initial);
  health.leader_known(true);
  const int after_change = r.calls;
  EXPECT_EQ(after_change, initial + 2);
  health.leader_known(true);  // another leader: still one known
  EXPECT_EQ(r.calls, after_change);
}

TEST(HealthStatus, ShutdownIsFinal) {
  Recorder r;
  HealthStatus health(r.setter());
  health.leader_known(true);
  health.shutdown();
  for (const auto& [name, serving] : r.status) EXPECT_FALSE(serving) << name;
  health.leader_known(true);
  for (const auto& [name, serving] : r.status) EXPECT_FALSE(serving) << name;
}

TEST(TokenGate, LetsOnlyHealthAndReflectionThroughWithoutAToken) {
  EXPECT_TRUE(api::TokenGate::needs_no_token("/grpc.health.v1.Health/Check"));
  EXPECT_TRUE(api::TokenGate::needs_no_token("/grpc.health.v1.Health/Watch"));
  EXPECT_TRUE(api::TokenGate::needs_no_token(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
  EXPECT_FALSE(api::TokenGate::needs_no_token("/nomad_lite.SchedulerService/SubmitJob"));
  EXPECT_FALSE(api::TokenGate::needs_no_token("/nomad_lite.RaftService/Stream"));
  EXPECT_FALSE(api::TokenGate::needs_no_token("/grpc.health.v1.HealthX/Check"));
  EXPECT_FALSE(api::TokenGate::needs_no_token(""));
}

// grpc.health.v1.HealthCheckRequest{service} and the status of a HealthCheckResponse, by hand:
// field 1, a string; field 1, a varint (UNKNOWN 0, SERVING 1, NOT_SERVING 2).
std::string check_request(const std::string& service) {
  return std::string(1, '\x0a') + static_cast<char>(service.size()) + service;
}

struct CheckAnswer {
  grpc::StatusCode code;
  int status;  // -1: no answer body
};

CheckAnswer check(grpc::GenericStub& stub, const std::string& service) {
  grpc::Slice slice(check_request(service));
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", {}, &request, &response,
                 [&](grpc::Status s) { done.set_value(s); });
  auto future = done.get_future();
  if (future.wait_for(10s) != std::future_status::ready) return {grpc::StatusCode::UNKNOWN, -1};
  grpc::Status status = future.get();
  if (!status.ok()) return {status.error_code(), -1};
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return {grpc::StatusCode::INTERNAL, -1};
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (bytes.empty()) return {grpc::StatusCode::OK, 0};
  if (bytes.size() != 2 || bytes[0] != '\x08') return {grpc::StatusCode::INTERNAL, -1};
  return {grpc::StatusCode::OK, bytes[1]};
}

TEST(HealthStatusGrpc, DefaultHealthServiceAnswersWhatHealthStatusSets) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_TRUE(server);
  ASSERT_NE(port, 0);
  grpc::HealthCheckServiceInterface* hc = server->GetHealthCheckService();
  ASSERT_NE(hc, nullptr);
  HealthStatus health(
      [hc](const std::string& name, bool serving) { hc->SetServingStatus(name, serving); });

  grpc::GenericStub stub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  auto expect = [&](const std::string& service, int status) {
    CheckAnswer a = check(stub, service);
    EXPECT_EQ(a.code, grpc::StatusCode::OK) << "'" << service << "'";
    EXPECT_EQ(a.status, status) << "'" << service << "'";
  };
  expect("", 2);
  expect("nomad_lite.SchedulerService", 2);
  expect("nomad_lite.RaftService", 1);
  health.leader_known(true);
  expect("", 1);
  expect("nomad_lite.SchedulerService", 1);
  EXPECT_EQ(check(stub, "no.such.Service").code, grpc::StatusCode::NOT_FOUND);
  health.shutdown();
  expect("", 2);
  expect("nomad_lite.InternalService", 2);
  server->Shutdown(std::chrono::system_clock::now() + 1s);
}

}  // namespace
}  // namespace nomad::server
