// Drain and eligibility of a node (README "Draining a node"): operator role when the server
// has a --token-file. A follower passes the write on to the leader.

#include "api/json.h"
#include "common/duration.h"
#include "http/errors.h"
#include "http/http_server.h"
#include "http/leader_write.h"
#include "http/request_parse.h"

namespace nomad::http {
namespace {

using nlohmann::json;

api::Error invalid(std::string message) {
  return {api::Code::kInvalidArgument, std::move(message), 0, {}};
}

// The body as a JSON object ({} when empty); unknown fields and a key given twice are refused.
api::Outcome<json> parse_object(const std::string& body,
                                std::initializer_list<const char*> fields) {
  api::Outcome<json> out;
  std::string duplicate_error;
  out.value = body.empty() ? json::object() : parse_json_strict(body, &duplicate_error);
  if (out.value.is_discarded() || !out.value.is_object()) {
    out.error = invalid("the body must be a JSON object");
    return out;
  }
  if (!duplicate_error.empty()) {
    out.error = invalid(std::move(duplicate_error));
    return out;
  }
  for (const auto& [key, value] : out.value.items()) {
    bool known = false;
    for (const char* f : fields) known = known || key == f;
    if (!known) {
      std::string names;
      for (const char* f : fields) names += (names.empty() ? "" : ", ") + std::string(f);
      out.error = invalid("unknown field '" + key + "'; the fields are " + names);
      return out;
    }
  }
  return out;
}

// Field `name` as a bool; absent or null: `fallback`.
bool boolean(const json& body, const char* name, bool fallback, api::Error* error) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  if (!body[name].is_boolean()) *error = invalid(std::string(name) + " must be true or false");
  return body[name].is_boolean() ? body[name].get<bool>() : fallback;
}

api::Outcome<nomad_lite::DrainNodeRequest> parse_drain(uint64_t node, const std::string& body) {
  api::Outcome<nomad_lite::DrainNodeRequest> out;
  auto parsed = parse_object(body, {"deadline", "no_deadline", "cancel"});
  if (!parsed.ok()) return {parsed.error, {}};
  const json& j = parsed.value;
  out.value.set_node_id(node);
  out.value.set_no_deadline(boolean(j, "no_deadline", false, &out.error));
  out.value.set_cancel(boolean(j, "cancel", false, &out.error));
  if (j.contains("deadline") && !j["deadline"].is_null()) {
    std::string why;
    auto deadline = j["deadline"].is_string()
                        ? parse_duration(j["deadline"].get<std::string>(), &why)
                        : std::nullopt;
    if (!deadline || deadline->count() < 0) {
      out.error = invalid("deadline must be a duration such as \"5m\" or \"0s\"" +
                          (why.empty() ? std::string() : " (" + why + ")"));
    } else {
      out.value.set_deadline_ms(static_cast<uint64_t>(deadline->count()));
    }
  }
  return out;
}

// The node id of the path, or an error naming it.
api::Outcome<uint64_t> path_node(const std::string& text) {
  api::Outcome<uint64_t> out;
  if (!parse_unsigned(text, UINT64_MAX, &out.value) || out.value == 0) {
    out.error = invalid("'" + text + "' is not a node id (GET /api/cluster lists them)");
  }
  return out;
}

}  // namespace

void HttpServer::add_node_routes() {
  // Runs `local` on this node; when it is not the leader, `forward` to the leader instead.
  auto write = [this](const Request& req, Response& res, const auto& local, const auto& forward) {
    api::Error refused =
        service_.authorize(req.get_header_value("Authorization"), api::Role::kOperator);
    if (refused.code != api::Code::kOk) return reply_error(res, refused);
    // The service answers with the whole response, the leader's forward with its node alone.
    auto start = [&local](auto done) {
      local([done](api::Outcome<nomad_lite::NodeSchedulingResponse> o) {
        done({std::move(o.error), std::move(*o.value.mutable_node())});
      });
    };
    auto out = write_at_leader<nomad_lite::NodeScheduling>(req, start, forward);
    if (!out.ok()) return reply_error(res, out.error);
    reply_json(res, 200, api::scheduling_to_json(out.value));
  };

  route(
      "POST", "/api/nodes/{id}/drain",
      [this, write](const Request& req, Response& res) {
        auto node = path_node(req.matches[1]);
        if (!node.ok()) return reply_error(res, node.error);
        auto request = parse_drain(node.value, req.body);
        if (!request.ok()) return reply_error(res, request.error);
        write(
            req, res, [&](auto done) { service_.drain_node(request.value, std::move(done)); },
            [&](const std::string& leader, const std::string& authorization) {
              return forwarder_.drain(leader, request.value, authorization);
            });
      },
      Run::kWorker);

  route(
      "POST", "/api/nodes/{id}/eligibility",
      [this, write](const Request& req, Response& res) {
        auto node = path_node(req.matches[1]);
        if (!node.ok()) return reply_error(res, node.error);
        auto body = parse_object(req.body, {"eligible"});
        if (!body.ok()) return reply_error(res, body.error);
        if (!body.value.contains("eligible") || !body.value["eligible"].is_boolean()) {
          return reply_error(res, invalid("give {\"eligible\": true} or {\"eligible\": false}"));
        }
        nomad_lite::SetNodeEligibilityRequest request;
        request.set_node_id(node.value);
        request.set_eligible(body.value["eligible"].get<bool>());
        write(
            req, res, [&](auto done) { service_.set_node_eligibility(request, std::move(done)); },
            [&](const std::string& leader, const std::string& authorization) {
              return forwarder_.eligibility(leader, request, authorization);
            });
      },
      Run::kWorker);
}

}  // namespace nomad::http
