#include "cli/client.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "transport/channel_args.h"
#include "transport/security.h"

namespace nomad::cli {
namespace {

using Clock = std::chrono::steady_clock;

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "ERROR";
  }
}

std::string find_metadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                          const char* key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

// A connection that never got through may be a server that is down, or one that wants TLS
// (or other certificates) than we use: gRPC reports both alike, so say what to check.
std::string connection_hint(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return "";
  if (status.error_message().find("handshake") == std::string::npos) return "";
  if (!transport::outgoing_tls()) {
    return "; is the server running? If it has --tls-ca, give its CA with --ca-cert and a "
           "client certificate with --cert and --key (or NOMAD_LITE_CACERT, "
           "NOMAD_LITE_CLIENT_CERT, NOMAD_LITE_CLIENT_KEY)";
  }
  return "; is the server running? If so, check that --ca-cert is the CA of its certificate, "
         "that --cert is signed by its --tls-ca, and that it uses TLS at all";
}

}  // namespace

Client::Client(std::vector<std::string> addresses, RetryPolicy policy)
    : addresses_(std::move(addresses)), policy_(policy) {
  if (!addresses_.empty()) target_ = addresses_.front();
  next_address_ = addresses_.size() > 1 ? 1 : 0;
}

std::shared_ptr<grpc::Channel> make_channel(const std::string& address, int index) {
  grpc::ChannelArguments args = transport::client_channel_arguments(index);
  return grpc::CreateCustomChannel(address, transport::channel_credentials(), args);
}

std::string leader_address_hint(const grpc::ClientContext& context, const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return "";
  std::string address = find_metadata(context.GetServerTrailingMetadata(), "leader-addr");
  if (address.empty()) address = find_metadata(context.GetServerInitialMetadata(), "leader-addr");
  return address;
}

std::string describe(const grpc::Status& status) {
  std::string message = status.error_message();
  std::replace(message.begin(), message.end(), '\n', ' ');
  if (message.empty()) return code_name(status.error_code());
  return message + " (" + code_name(status.error_code()) + ")";
}

nomad_lite::SchedulerService::Stub& Client::stub(const std::string& address) {
  auto& slot = stubs_[address];
  if (!slot) slot = nomad_lite::SchedulerService::NewStub(make_channel(address));
  return *slot;
}

grpc::Status Client::call(const Rpc& rpc, Limits limits) {
  const auto give_up = Clock::now() + limits.unavailable_budget;
  Millis backoff = policy_.initial_backoff;
  int redirects = 0;
  size_t failures_this_round = 0;
  std::string target = target_;
  while (true) {
    grpc::ClientContext context;
    transport::add_call_credentials(&context);
    // gRPC takes deadlines on the system clock only.
    if (limits.call_timeout.count() > 0) {
      context.set_deadline(std::chrono::system_clock::now() + limits.call_timeout);
    }
    grpc::Status status = rpc(stub(target), &context);
    if (status.ok()) {
      target_ = target;
      return status;
    }
    std::string leader = leader_address_hint(context, status);
    if (!leader.empty()) {
      if (leader == target || redirects >= policy_.max_redirects) {
        return grpc::Status(status.error_code(), status.error_message() + " (redirected " +
                                                     std::to_string(redirects) +
                                                     " times, last to " + target + ")");
      }
      ++redirects;
      target = leader;
      continue;
    }
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      // The leader is overloaded: the same server again, a little later.
      if (Clock::now() + backoff >= give_up) return status;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, policy_.max_backoff);
      continue;
    }
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
    if (Clock::now() + backoff >= give_up) {
      std::string tried;
      for (const auto& address : addresses_) tried += (tried.empty() ? "" : ", ") + address;
      return grpc::Status(status.error_code(), "no leader reachable within " +
                                                   format_duration(limits.unavailable_budget) +
                                                   " (tried " + tried + "); last answer from " +
                                                   target + ": " + status.error_message() +
                                                   connection_hint(status));
    }
    // Try the next address; after a whole round of failures, wait before the next round.
    redirects = 0;
    if (++failures_this_round >= addresses_.size()) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, policy_.max_backoff);
      failures_this_round = 0;
    }
    target = addresses_[next_address_];
    next_address_ = (next_address_ + 1) % addresses_.size();
  }
}

grpc::Status Client::submit_job(const nomad_lite::SubmitJobRequest& request,
                                nomad_lite::SubmitJobResponse* response) {
  auto rpc = [&](auto& stub, auto* context) { return stub.SubmitJob(context, request, response); };
  grpc::Status status;
  if (request.wait_ms() == 0) {
    status = call(rpc);
  } else {
    // As wait_job: the server holds the call for the wait, the deadline allows for it.
    Millis wait = std::min(Millis(static_cast<int64_t>(request.wait_ms())), kLongestWait);
    status = call(rpc, {wait + policy_.call_timeout, policy_.unavailable_budget});
  }
  if (status.ok()) min_index_ = std::max(min_index_, response->index());
  return status;
}

grpc::Status Client::get_job_status(const nomad_lite::GetJobStatusRequest& request,
                                    nomad_lite::GetJobStatusResponse* response) {
  auto read = with_read_options(request);
  return call(
      [&](auto& stub, auto* context) { return stub.GetJobStatus(context, read, response); });
}

grpc::Status Client::list_jobs(const nomad_lite::ListJobsRequest& request,
                               nomad_lite::ListJobsResponse* response) {
  auto read = with_read_options(request);
  return call([&](auto& stub, auto* context) { return stub.ListJobs(context, read, response); });
}

grpc::Status Client::cancel_job(const nomad_lite::CancelJobRequest& request,
                                nomad_lite::CancelJobResponse* response) {
  grpc::Status status =
      call([&](auto& stub, auto* context) { return stub.CancelJob(context, request, response); });
  if (status.ok()) min_index_ = std::max(min_index_, response->index());
  return status;
}

grpc::Status Client::transfer_leadership(const nomad_lite::TransferLeadershipRequest& request,
                                         nomad_lite::TransferLeadershipResponse* response) {
  // The server answers once the new leader is known, within the transfer's own timeout.
  Millis transfer{request.timeout_ms() ? static_cast<int64_t>(request.timeout_ms()) : 5000};
  return call([&](auto& stub,
                  auto* context) { return stub.TransferLeadership(context, request, response); },
              {transfer + policy_.call_timeout, policy_.unavailable_budget});
}

grpc::Status Client::get_cluster_status(const nomad_lite::GetClusterStatusRequest& request,
                                        nomad_lite::GetClusterStatusResponse* response) {
  return call(
      [&](auto& stub, auto* context) { return stub.GetClusterStatus(context, request, response); });
}

grpc::Status Client::drain_node(const nomad_lite::DrainNodeRequest& request,
                                nomad_lite::NodeSchedulingResponse* response) {
  return call(
      [&](auto& stub, auto* context) { return stub.DrainNode(context, request, response); });
}

grpc::Status Client::set_node_eligibility(const nomad_lite::SetNodeEligibilityRequest& request,
                                          nomad_lite::NodeSchedulingResponse* response) {
  return call([&](auto& stub, auto* context) {
    return stub.SetNodeEligibility(context, request, response);
  });
}

grpc::Status Client::create_periodic_job(const nomad_lite::CreatePeriodicJobRequest& request,
                                         nomad_lite::PeriodicJobResponse* response) {
  return call([&](auto& stub, auto* context) {
    return stub.CreatePeriodicJob(context, request, response);
  });
}

grpc::Status Client::control_periodic_job(const nomad_lite::ControlPeriodicJobRequest& request,
                                          nomad_lite::PeriodicJobResponse* response) {
  return call([&](auto& stub, auto* context) {
    return stub.ControlPeriodicJob(context, request, response);
  });
}

grpc::Status Client::get_periodic_job(const nomad_lite::GetPeriodicJobRequest& request,
                                      nomad_lite::PeriodicJobResponse* response) {
  return call([&](auto& stub, auto* context) {
    return stub.GetPeriodicJob(context, with_read_options(request), response);
  });
}

grpc::Status Client::list_periodic_jobs(const nomad_lite::ListPeriodicJobsRequest& request,
                                        nomad_lite::ListPeriodicJobsResponse* response) {
  return call([&](auto& stub, auto* context) {
    return stub.ListPeriodicJobs(context, with_read_options(request), response);
  });
}

grpc::Status Client::list_members(const nomad_lite::ListMembersRequest& request,
                                  nomad_lite::ListMembersResponse* response) {
  return call(
      [&](auto& stub, auto* context) { return stub.ListMembers(context, request, response); });
}

grpc::Status Client::add_server(const nomad_lite::AddServerRequest& request,
                                nomad_lite::MembershipChangeResponse* response) {
  return call(
      [&](auto& stub, auto* context) { return stub.AddServer(context, request, response); });
}

grpc::Status Client::remove_server(const nomad_lite::RemoveServerRequest& request,
                                   nomad_lite::MembershipChangeResponse* response) {
  return call(
      [&](auto& stub, auto* context) { return stub.RemoveServer(context, request, response); });
}

grpc::Status Client::wait_job(const nomad_lite::WaitJobRequest& request,
                              nomad_lite::WaitJobResponse* response, Millis unavailable_budget) {
  // The server holds the call for up to the wait asked for: the deadline allows that and
  // a margin for the answer to travel.
  Millis wait =
      request.timeout_ms() == 0 ? kLongestWait : Millis(static_cast<int64_t>(request.timeout_ms()));
  auto read = with_read_options(request);
  return call([&](auto& stub, auto* context) { return stub.WaitJob(context, read, response); },
              {std::min(wait, kLongestWait) + policy_.call_timeout, unavailable_budget});
}

grpc::Status Client::stream_job_logs(
    nomad_lite::JobLogsRequest request,
    const std::function<void(const nomad_lite::LogChunk&)>& on_chunk) {
  request = with_read_options(std::move(request));
  uint64_t position = request.offset();  // the next byte wanted
  bool resumed = false;
  while (true) {
    bool progressed = false;
    grpc::Status status = call(
        [&](auto& stub, auto* context) {
          request.set_offset(position);
          auto reader = stub.StreamJobLogs(context, request);
          nomad_lite::LogChunk chunk;
          while (reader->Read(&chunk)) {
            if (resumed) {
              // Bytes before `position` were passed on by an earlier stream already.
              uint64_t end = chunk.offset() + chunk.data().size();
              if (end <= position && !chunk.data().empty()) continue;
              if (chunk.offset() < position) {
                chunk.mutable_data()->erase(0, position - chunk.offset());
                chunk.set_offset(position);
              }
            }
            if (!chunk.data().empty()) position = chunk.offset() + chunk.data().size();
            progressed = true;
            on_chunk(chunk);
            chunk.Clear();
          }
          grpc::Status finished = reader->Finish();
          if (!finished.ok()) resumed = true;
          return finished;
        },
        {Millis(0), policy_.unavailable_budget});
    // A stream that delivered something before it broke gets a fresh retry budget.
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && progressed) continue;
    return status;
  }
}

grpc::Status Client::save_snapshot(std::string* bytes) {
  return call(
      [&](auto& stub, auto* context) {
        bytes->clear();
        auto reader = stub.SaveSnapshot(context, nomad_lite::SaveSnapshotRequest());
        nomad_lite::SnapshotChunk chunk;
        while (reader->Read(&chunk)) {
          bytes->append(chunk.data());
        }
        grpc::Status status = reader->Finish();
        if (status.ok() && bytes->size() != chunk.total_bytes()) {
          return grpc::Status(grpc::StatusCode::DATA_LOSS,
                              "the snapshot stream ended after " + std::to_string(bytes->size()) +
                                  " of " + std::to_string(chunk.total_bytes()) + " bytes");
        }
        return status;
      },
      {Millis(0), policy_.unavailable_budget});
}

}  // namespace nomad::cli
