// Submissions and cancels. A POST without a body, as `curl -X POST` sends, is taken as an
// empty body; one over the limit is refused (413) by the connection before it is read.
// Both wait for the write to commit (or be forwarded), so both run on the worker pool.

#include <future>
#include <memory>

#include "api/json.h"
#include "http/errors.h"
#include "http/http_server.h"
#include "http/request_parse.h"

namespace nomad::http {

void HttpServer::add_write_routes() {
  route(
      "POST", "/api/jobs",
      [this](const Request& req, Response& res) {
        auto request = parse_submit(req.body);
        if (!request.ok()) return reply_error(res, request.error);
        auto job = writer_.submit(std::move(request.value), req.get_header_value("Authorization"));
        if (!job.ok()) return reply_error(res, job.error);
        res.set_header("Location", "/api/jobs/" + job.value.id());
        nlohmann::json body = api::job_to_json(job.value, api::JobJson::kWithOutput);
        body["index"] = job.index;  // pass as ?min_index= to read it back on any node
        reply_json(res, 201, body);
      },
      Run::kWorker);

  route(
      "POST", "/api/jobs/{id}/cancel",
      [this](const Request& req, Response& res) {
        // A cancel takes no options: its body, if any, is ignored.
        nomad_lite::CancelJobRequest cancel;
        cancel.set_job_id(req.matches[1]);
        auto job = writer_.cancel(cancel, req.get_header_value("Authorization"));
        if (!job.ok()) return reply_error(res, job.error);
        nlohmann::json body = api::job_to_json(job.value, api::JobJson::kWithOutput);
        body["index"] = job.index;
        reply_json(res, 200, body);
      },
      Run::kWorker);

  route(
      "POST", "/api/cluster/transfer-leader",
      [this](const Request& req, Response& res) {
        // Moving leadership is an operator's act, above the submit role the gate checked.
        const std::string authorization = req.get_header_value("Authorization");
        if (api::Error e = service_.authorize(authorization, api::Role::kOperator);
            e.code != api::Code::kOk) {
          return reply_error(res, e);
        }
        nomad_lite::TransferLeadershipRequest request;
        if (auto it = req.params.find("to"); it != req.params.end() && !it->second.empty()) {
          uint64_t to = 0;
          if (!parse_unsigned(it->second, UINT64_MAX, &to) || to == 0) {
            return reply_error(res, 400,
                               "to '" + it->second.substr(0, 64) +
                                   "' must be a node id (1, 2, ...); leave it out for "
                                   "the most up-to-date follower");
          }
          request.set_to(to);
        }
        auto promise =
            std::make_shared<std::promise<api::Outcome<nomad_lite::TransferLeadershipResponse>>>();
        auto future = promise->get_future();
        service_.transfer_leadership(request,
                                     [promise](auto out) { promise->set_value(std::move(out)); });
        auto out = future.get();  // the node answers by the transfer's deadline at the latest
        if (out.error.code == api::Code::kNotLeader && !out.error.leader_address.empty()) {
          out = forwarder_.transfer_leadership(out.error.leader_address, request, authorization);
        }
        if (!out.ok()) return reply_error(res, out.error);
        reply_json(res, 200,
                   {{"leader_id", out.value.leader_id()},
                    {"leader_address", out.value.leader_address()},
                    {"term", out.value.term()},
                    {"previous_leader_id", out.value.previous_leader_id()}});
      },
      Run::kWorker);
}

}  // namespace nomad::http
