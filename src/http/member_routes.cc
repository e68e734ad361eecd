// The cluster's members over REST: GET /api/members (read role), POST /api/members
// {"id": 4, "address": "host:port"} and DELETE /api/members/{id} (operator role). A change
// that reaches a follower is sent on to the leader over gRPC, as job writes are; the list is
// asked of the leader too when one is known, since only it knows each member's progress.

#include <grpcpp/grpcpp.h>

#include <future>
#include <map>
#include <memory>
#include <mutex>

#include "api/members.h"
#include "http/errors.h"
#include "http/http_server.h"
#include "http/leader_forwarder.h"
#include "http/request_parse.h"
#include "transport/channel_args.h"
#include "transport/security.h"

namespace nomad::http {
namespace {

using nlohmann::json;

constexpr auto kMemberCallTimeout = std::chrono::seconds(10);

nomad_lite::SchedulerService::Stub& leader_stub(const std::string& address) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<nomad_lite::SchedulerService::Stub>> stubs;
  std::lock_guard lock(mu);
  auto& stub = stubs[address];
  if (!stub) {
    stub = nomad_lite::SchedulerService::NewStub(grpc::CreateCustomChannel(
        address, transport::channel_credentials(), transport::node_channel_arguments()));
  }
  return *stub;
}

// Calls `method` at the leader with the user's own token; follows one more leader hint.
template <class Request, class Response>
api::Outcome<Response> at_leader(std::string address, const Request& request,
                                 const std::string& authorization,
                                 grpc::Status (nomad_lite::SchedulerService::Stub::*method)(
                                     grpc::ClientContext*, const Request&, Response*)) {
  api::Outcome<Response> out;
  for (int hop = 0; hop < 2; ++hop) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kMemberCallTimeout);
    context.set_wait_for_ready(true);
    transport::add_authorization(&context, authorization);
    grpc::Status status = (leader_stub(address).*method)(&context, request, &out.value);
    out.error = error_from_grpc(status, context, address);
    if (out.error.code != api::Code::kNotLeader || out.error.leader_address == address) break;
    address = out.error.leader_address;
  }
  return out;
}

json change_to_json(const nomad_lite::MembershipChangeResponse& r) {
  json j = api::members_to_json(r.members());
  j["index"] = r.index();
  return j;
}

// The body of POST /api/members: {"id": N, "address": "host:port"}, nothing else.
api::Outcome<nomad_lite::AddServerRequest> parse_add(const std::string& body) {
  api::Outcome<nomad_lite::AddServerRequest> out;
  auto invalid = [&](std::string message) {
    out.error = {api::Code::kInvalidArgument, std::move(message), 0, {}};
    return out;
  };
  std::string duplicate_error;
  json doc = parse_json_strict(body, &duplicate_error);
  if (doc.is_discarded() || !doc.is_object()) {
    return invalid(
        "the body must be a JSON object like {\"id\": 4, \"address\": \"10.0.0.4:50051\"}");
  }
  if (!duplicate_error.empty()) return invalid(std::move(duplicate_error));
  for (const auto& [key, value] : doc.items()) {
    if (key == "id") {
      if (!value.is_number_unsigned()) return invalid("'id' must be a node id (a number from 1)");
      out.value.set_id(value.get<uint64_t>());
    } else if (key == "address") {
      if (!value.is_string()) return invalid("'address' must be a string host:port");
      out.value.set_address(value.get<std::string>());
    } else {
      return invalid("unknown field '" + key.substr(0, 64) + "'; give id and address");
    }
  }
  if (out.value.id() == 0) return invalid("'id' is missing or 0: give the new node's --node-id");
  return out;
}

}  // namespace

void HttpServer::add_member_routes() {
  route(
      "GET", "/api/members",
      [this](const Request& req, Response& res) {
        auto local = service_.members().list();
        if (!local.ok()) return reply_error(res, local.error);
        const auto& view = local.value;
        if (view.leader_id() != 0 && view.leader_id() != view.node_id()) {
          for (const auto& m : view.members()) {
            if (m.id() != view.leader_id()) continue;
            auto remote = at_leader(m.address(), nomad_lite::ListMembersRequest{},
                                    req.get_header_value("Authorization"),
                                    &nomad_lite::SchedulerService::Stub::ListMembers);
            if (remote.ok()) return reply_json(res, 200, api::members_to_json(remote.value));
          }
        }
        reply_json(res, 200, api::members_to_json(view));
      },
      Run::kWorker);

  auto answer = [this](const Request& req, Response& res, int created, auto&& local,
                       auto&& forward) {
    api::Error refused =
        service_.authorize(req.get_header_value("Authorization"), api::Role::kOperator);
    if (refused.code != api::Code::kOk) return reply_error(res, refused);
    std::promise<api::Outcome<nomad_lite::MembershipChangeResponse>> promise;
    auto future = promise.get_future();
    local([&promise](api::Outcome<nomad_lite::MembershipChangeResponse> out) {
      promise.set_value(std::move(out));
    });
    auto out = future.get();
    if (out.error.code == api::Code::kNotLeader && !out.error.leader_address.empty()) {
      out = forward(out.error.leader_address, req.get_header_value("Authorization"));
    }
    if (!out.ok()) return reply_error(res, out.error);
    reply_json(res, created, change_to_json(out.value));
  };

  route(
      "POST", "/api/members",
      [this, answer](const Request& req, Response& res) {
        auto add = parse_add(req.body);
        if (!add.ok()) return reply_error(res, add.error);
        answer(
            req, res, 201,
            [this, &add](auto done) { service_.members().add_server(add.value, std::move(done)); },
            [&add](const std::string& leader, const std::string& authorization) {
              return at_leader(leader, add.value, authorization,
                               &nomad_lite::SchedulerService::Stub::AddServer);
            });
      },
      Run::kWorker);

  route(
      "DELETE", "/api/members/{id}",
      [this, answer](const Request& req, Response& res) {
        const std::string& text = req.matches[1];
        nomad_lite::RemoveServerRequest remove;
        bool digits = !text.empty() && text.size() <= 19 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || std::stoull(text) == 0) {
          return reply_error(res, 400, "'" + text.substr(0, 64) + "' is not a node id");
        }
        remove.set_id(std::stoull(text));
        answer(
            req, res, 200,
            [this, &remove](auto done) {
              service_.members().remove_server(remove, std::move(done));
            },
            [&remove](const std::string& leader, const std::string& authorization) {
              return at_leader(leader, remove, authorization,
                               &nomad_lite::SchedulerService::Stub::RemoveServer);
            });
      },
      Run::kWorker);
}

}  // namespace nomad::http
