#pragma once

// Writes that reach a follower go to the leader from here, over the leader's client API
// (gRPC), so a dashboard user never sees "not the leader". One channel per address, kept.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api/service.h"
#include "proto/nomad_lite.grpc.pb.h"

namespace nomad::http {

class LeaderForwarder {
 public:
  explicit LeaderForwarder(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  // The answer of the node at `address` (host:port of its gRPC API). When it is no longer the
  // leader either, the call follows its hint, up to two more hops. Submissions must carry an
  // idempotency key: a forward that is retried then cannot create a second job.
  // `authorization` is the request's own header: the leader checks the token again.
  api::Outcome<nomad_lite::Job> submit(std::string address,
                                       const nomad_lite::SubmitJobRequest& request,
                                       const std::string& authorization);
  api::Outcome<nomad_lite::Job> cancel(std::string address,
                                       const nomad_lite::CancelJobRequest& request,
                                       const std::string& authorization);
  // Asks the leader at `address` to hand leadership on (one hop).
  api::Outcome<nomad_lite::TransferLeadershipResponse> transfer_leadership(
      const std::string& address, const nomad_lite::TransferLeadershipRequest& request,
      const std::string& authorization);
  // Drain and eligibility (operator role, checked by the leader again).
  api::Outcome<nomad_lite::NodeScheduling> drain(std::string address,
                                                 const nomad_lite::DrainNodeRequest& request,
                                                 const std::string& authorization);
  api::Outcome<nomad_lite::NodeScheduling> eligibility(
      std::string address, const nomad_lite::SetNodeEligibilityRequest& request,
      const std::string& authorization);
  // Periodic jobs: create, and pause/resume/cancel/run-now (submit role, checked again).
  api::Outcome<nomad_lite::PeriodicJobResponse> create_periodic(
      std::string address, const nomad_lite::CreatePeriodicJobRequest& request,
      const std::string& authorization);
  api::Outcome<nomad_lite::PeriodicJobResponse> control_periodic(
      std::string address, const nomad_lite::ControlPeriodicJobRequest& request,
      const std::string& authorization);
  // The leader's snapshot file (GET /api/operator/snapshot on a follower), whole.
  api::Outcome<std::string> snapshot(std::string address, const std::string& authorization);

 private:
  nomad_lite::SchedulerService::Stub& stub(const std::string& address);
  // One call to the leader at `address`, following its hints (see submit); `Value` is what
  // `take` draws from the response.
  template <class Value, class Request, class Response>
  api::Outcome<Value> forward(std::string address, const Request& request,
                              const std::string& authorization,
                              grpc::Status (nomad_lite::SchedulerService::Stub::*method)(
                                  grpc::ClientContext*, const Request&, Response*),
                              Value (*take)(const Response&));
  template <class Request, class Response>
  api::Outcome<nomad_lite::Job> call(std::string address, const Request& request,
                                     const std::string& authorization,
                                     grpc::Status (nomad_lite::SchedulerService::Stub::*method)(
                                         grpc::ClientContext*, const Request&, Response*));

  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<nomad_lite::SchedulerService::Stub>> stubs_;
};

// A gRPC answer as the client API's error (FAILED_PRECONDITION with a leader hint is
// kNotLeader with that address).
api::Error error_from_grpc(const grpc::Status& status, const grpc::ClientContext& context,
                           const std::string& address);

}  // namespace nomad::http
