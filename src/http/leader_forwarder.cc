#include "http/leader_forwarder.h"

#include "transport/channel_args.h"
#include "transport/security.h"

namespace nomad::http {
namespace {

std::string metadata(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                     const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

}  // namespace

api::Error error_from_grpc(const grpc::Status& status, const grpc::ClientContext& context,
                           const std::string& address) {
  auto error = [&](api::Code code, std::string message) -> api::Error {
    return {code, std::move(message), 0, {}};
  };
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return {};
    case grpc::StatusCode::INVALID_ARGUMENT:
      return error(api::Code::kInvalidArgument, status.error_message());
    case grpc::StatusCode::NOT_FOUND:
      return error(api::Code::kNotFound, status.error_message());
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return error(api::Code::kResourceExhausted, status.error_message());
    case grpc::StatusCode::ALREADY_EXISTS:
      return error(api::Code::kAlreadyExists, status.error_message());
    case grpc::StatusCode::FAILED_PRECONDITION: {
      std::string leader = metadata(context.GetServerTrailingMetadata(), "leader-addr");
      if (leader.empty()) return error(api::Code::kFailedPrecondition, status.error_message());
      api::Error e = error(api::Code::kNotLeader, status.error_message());
      e.leader_address = leader;
      std::string id = metadata(context.GetServerTrailingMetadata(), "leader-id");
      e.leader_id = id.empty() ? 0 : std::strtoull(id.c_str(), nullptr, 10);
      return e;
    }
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      // This node took the token: the leader's --token-file differs from ours.
      return error(status.error_code() == grpc::StatusCode::UNAUTHENTICATED
                       ? api::Code::kUnauthenticated
                       : api::Code::kPermissionDenied,
                   "the leader at " + address + " refused the token (" + status.error_message() +
                       "); every node needs the same --token-file");
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return error(api::Code::kUnavailable, "the leader at " + address + " did not answer (" +
                                                status.error_message() + "); retry shortly");
    default:
      return error(api::Code::kInternal,
                   "the leader at " + address + " failed: " + status.error_message());
  }
}

nomad_lite::SchedulerService::Stub& LeaderForwarder::stub(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) {
    // A leader that restarts is reached again within half a second, not after gRPC's default
    // backoff of up to two minutes.
    grpc::ChannelArguments args = transport::node_channel_arguments();
    stub = nomad_lite::SchedulerService::NewStub(
        grpc::CreateCustomChannel(address, transport::channel_credentials(), args));
  }
  return *stub;
}

template <class Value, class Request, class Response>
api::Outcome<Value> LeaderForwarder::forward(
    std::string address, const Request& request, const std::string& authorization,
    grpc::Status (nomad_lite::SchedulerService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                               Response*),
    Value (*take)(const Response&)) {
  api::Outcome<Value> out;
  for (int hop = 0; hop < 3; ++hop) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    // Wait for the connection within the deadline rather than fail while it is being made.
    context.set_wait_for_ready(true);
    transport::add_authorization(&context, authorization);  // the user's, checked again there
    Response response;
    grpc::Status status = (stub(address).*method)(&context, request, &response);
    out.error = error_from_grpc(status, context, address);
    out.value = take(response);
    if constexpr (requires { response.index(); }) out.index = response.index();
    if (out.error.code != api::Code::kNotLeader || out.error.leader_address == address) break;
    address = out.error.leader_address;  // leadership moved meanwhile: follow it
  }
  if (out.error.code == api::Code::kNotLeader) {
    out.error = {api::Code::kUnavailable, "the leader is changing; retry shortly", 0, {}};
  }
  return out;
}

template <class Request, class Response>
api::Outcome<nomad_lite::Job> LeaderForwarder::call(
    std::string address, const Request& request, const std::string& authorization,
    grpc::Status (nomad_lite::SchedulerService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                               Response*)) {
  return forward<nomad_lite::Job>(
      std::move(address), request, authorization, method,
      +[](const Response& r) { return r.job(); });
}

api::Outcome<nomad_lite::Job> LeaderForwarder::submit(std::string address,
                                                      const nomad_lite::SubmitJobRequest& request,
                                                      const std::string& authorization) {
  return call(std::move(address), request, authorization,
              &nomad_lite::SchedulerService::Stub::SubmitJob);
}

api::Outcome<nomad_lite::Job> LeaderForwarder::cancel(std::string address,
                                                      const nomad_lite::CancelJobRequest& request,
                                                      const std::string& authorization) {
  return call(std::move(address), request, authorization,
              &nomad_lite::SchedulerService::Stub::CancelJob);
}

api::Outcome<nomad_lite::TransferLeadershipResponse> LeaderForwarder::transfer_leadership(
    const std::string& address, const nomad_lite::TransferLeadershipRequest& request,
    const std::string& authorization) {
  api::Outcome<nomad_lite::TransferLeadershipResponse> out;
  grpc::ClientContext context;
  // The transfer itself may take up to its timeout.
  context.set_deadline(std::chrono::system_clock::now() + timeout_ +
                       std::chrono::milliseconds(request.timeout_ms() ? request.timeout_ms()
                                                                      : api::kDefaultTransferMs));
  context.set_wait_for_ready(true);
  transport::add_authorization(&context, authorization);
  grpc::Status status = stub(address).TransferLeadership(&context, request, &out.value);
  out.error = error_from_grpc(status, context, address);
  if (out.error.code == api::Code::kNotLeader) {
    out.error = {api::Code::kUnavailable, "the leader is changing; retry shortly", 0, {}};
  }
  return out;
}

api::Outcome<nomad_lite::NodeScheduling> LeaderForwarder::drain(
    std::string address, const nomad_lite::DrainNodeRequest& request,
    const std::string& authorization) {
  return forward<nomad_lite::NodeScheduling>(
      std::move(address), request, authorization, &nomad_lite::SchedulerService::Stub::DrainNode,
      +[](const nomad_lite::NodeSchedulingResponse& r) { return r.node(); });
}

api::Outcome<nomad_lite::NodeScheduling> LeaderForwarder::eligibility(
    std::string address, const nomad_lite::SetNodeEligibilityRequest& request,
    const std::string& authorization) {
  return forward<nomad_lite::NodeScheduling>(
      std::move(address), request, authorization,
      &nomad_lite::SchedulerService::Stub::SetNodeEligibility,
      +[](const nomad_lite::NodeSchedulingResponse& r) { return r.node(); });
}

api::Outcome<nomad_lite::PeriodicJobResponse> LeaderForwarder::create_periodic(
    std::string address, const nomad_lite::CreatePeriodicJobRequest& request,
    const std::string& authorization) {
  return forward<nomad_lite::PeriodicJobResponse>(
      std::move(address), request, authorization,
      &nomad_lite::SchedulerService::Stub::CreatePeriodicJob,
      +[](const nomad_lite::PeriodicJobResponse& r) { return r; });
}

api::Outcome<nomad_lite::PeriodicJobResponse> LeaderForwarder::control_periodic(
    std::string address, const nomad_lite::ControlPeriodicJobRequest& request,
    const std::string& authorization) {
  return forward<nomad_lite::PeriodicJobResponse>(
      std::move(address), request, authorization,
      &nomad_lite::SchedulerService::Stub::ControlPeriodicJob,
      +[](const nomad_lite::PeriodicJobResponse& r) { return r; });
}

api::Outcome<std::string> LeaderForwarder::snapshot(std::string address,
                                                    const std::string& authorization) {
  // A large state takes longer to send than a write to commit.
  constexpr auto kSnapshotDeadline = std::chrono::minutes(5);
  api::Outcome<std::string> out;
  for (int hop = 0; hop < 3; ++hop) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kSnapshotDeadline);
    context.set_wait_for_ready(true);
    transport::add_authorization(&context, authorization);
    out.value.clear();
    auto reader = stub(address).SaveSnapshot(&context, nomad_lite::SaveSnapshotRequest());
    nomad_lite::SnapshotChunk chunk;
    while (reader->Read(&chunk)) out.value.append(chunk.data());
    grpc::Status status = reader->Finish();
    out.error = error_from_grpc(status, context, address);
    if (status.ok() && out.value.size() != chunk.total_bytes()) {
      out.error = {api::Code::kUnavailable,
                   "the leader at " + address + " ended the snapshot early; retry",
                   0,
                   {}};
    }
    if (out.error.code != api::Code::kNotLeader || out.error.leader_address == address) break;
    address = out.error.leader_address;
  }
  if (out.error.code == api::Code::kNotLeader) {
    out.error = {api::Code::kUnavailable, "the leader is changing; retry shortly", 0, {}};
  }
  if (!out.ok()) out.value.clear();
  return out;
}

}  // namespace nomad::http
