// Submissions and cancels. Their bodies are read by hand (content readers) so that a POST
// without a body, as `curl -X POST` sends, is not refused for lacking a Content-Length.

#include "api/json.h"
#include "http/errors.h"
#include "http/http_server.h"
#include "http/request_parse.h"

namespace nomad::http {

using httplib::ContentReader;
using httplib::Request;
using httplib::Response;

namespace {

// The request's body, or false with the answer written (413 over the limit, 400 otherwise).
bool read_body(const Request& req, Response& res, const ContentReader& read, std::string* body) {
  if (content_length(req) == 0) return true;
  bool ok = read([&](const char* data, size_t length) {
    body->append(data, length);
    return true;
  });
  if (ok) return true;
  if (res.status == 413) {
    reply_error(res, 413, default_error_message(413));
  } else {
    reply_error(res, 400, "the request body could not be read");
  }
  res.set_header("Connection", "close");  // what is left of the body is not read
  return false;
}

}  // namespace

void HttpServer::add_write_routes() {
  server_->Post("/api/jobs", [this](const Request& req, Response& res, const ContentReader& read) {
    std::string body;
    if (!read_body(req, res, read, &body)) return;
    auto request = parse_submit(body);
    if (!request.ok()) return reply_error(res, request.error);
    auto job = writer_.submit(std::move(request.value), req.get_header_value("Authorization"));
    if (!job.ok()) return reply_error(res, job.error);
    res.set_header("Location", "/api/jobs/" + job.value.id());
    reply_json(res, 201, api::job_to_json(job.value, api::JobJson::kWithOutput));
  });

  server_->Post(R"(/api/jobs/([^/]+)/cancel)",
               [this](const Request& req, Response& res, const ContentReader& read) {
                 std::string ignored;  // a cancel takes no options
                 if (!read_body(req, res, read, &ignored)) return;
                 nomad_lite::CancelJobRequest cancel;
                 cancel.set_job_id(req.matches[1]);
                 auto job = writer_.cancel(cancel, req.get_header_value("Authorization"));
                 if (!job.ok()) return reply_error(res, job.error);
                 reply_json(res, 200, api::job_to_json(job.value, api::JobJson::kWithOutput));
               });
}

}  // namespace nomad::http
