// Submissions and cancels. A POST without a body, as `curl -X POST` sends, is taken as an
// empty body; one over the limit is refused (413) by the connection before it is read.
// Both wait for the write to commit (or be forwarded), so both run on the worker pool.

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
        reply_json(res, 201, api::job_to_json(job.value, api::JobJson::kWithOutput));
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
        reply_json(res, 200, api::job_to_json(job.value, api::JobJson::kWithOutput));
      },
      Run::kWorker);
}

}  // namespace nomad::http
