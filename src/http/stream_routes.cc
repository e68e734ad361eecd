// Long answers: a job's output (followed until its attempt ends) and the event stream. Each
// holds one server thread while it lasts, so each is capped (limits.h), and each ends as soon
// as its client leaves or the server stops.

#include "http/connection_probe.h"
#include "http/errors.h"
#include "http/http_server.h"
#include "http/limits.h"
#include "http/log_pump.h"
#include "http/request_parse.h"

namespace nomad::http {

using httplib::DataSink;
using httplib::Request;
using httplib::Response;

namespace {

// How long the output handler waits for the first output before it commits to 200: errors
// found by then (no such attempt, its node unreachable) still get their own status.
constexpr auto kFirstOutputWait = 2s;
constexpr auto kPoll = 500ms;

}  // namespace

void HttpServer::add_stream_routes() {
  server_->Get(R"(/api/jobs/([^/]+)/logs)",
              [this](const Request& req, Response& res) { serve_logs(req, res); });
  server_->Get("/api/events", [this](const Request& req, Response& res) { serve_events(req, res); });
}

void HttpServer::serve_logs(const Request& req, Response& res) {
  auto request = parse_logs_query(req.matches[1], req.params);
  if (!request.ok()) return reply_error(res, request.error);
  nomad_lite::GetJobStatusRequest get;
  get.set_job_id(request.value.job_id());
  if (auto job = service_.get_job(get); !job.ok()) return reply_error(res, job.error);
  if (log_streams_.fetch_add(1) >= kMaxLogStreams) {
    --log_streams_;
    return reply_error(res, 503,
                       "too many outputs are being read at once (" +
                           std::to_string(kMaxLogStreams) + "); retry shortly");
  }
  ConnectionProbe probe = ConnectionProbe::of(req);
  auto pump = std::make_shared<LogPump>(service_, std::move(request.value),
                                        [probe] { return probe.client_gone(); });
  pump->wait_for_news(kFirstOutputWait);
  LogPump::Batch first = pump->take(0ms);
  const std::string type = "text/plain; charset=utf-8";
  if (first.ended) {
    --log_streams_;
    if (first.error.code != api::Code::kOk && first.data.empty())
      return reply_error(res, first.error);
    res.set_content(first.data, type);
    return;
  }
  // Output still coming: stream it as it arrives. Compressing would hold it back in the
  // compressor's buffer, so the client's Accept-Encoding is set aside for this answer.
  const_cast<Request&>(req).headers.erase("Accept-Encoding");
  auto pending = std::make_shared<std::string>(std::move(first.data));
  res.set_chunked_content_provider(
      type,
      [this, pump, pending](size_t, DataSink& sink) {
        if (!pending->empty()) {
          if (!sink.write(pending->data(), pending->size())) return false;
          pending->clear();
        }
        while (!stopping_) {
          LogPump::Batch batch = pump->take(kPoll);
          if (!batch.data.empty() && !sink.write(batch.data.data(), batch.data.size())) {
            return false;
          }
          if (batch.ended) {
            // Cut short by an error: end without the final chunk, so the client sees the
            // answer is incomplete rather than take it for the whole output.
            if (batch.error.code != api::Code::kOk) return false;
            sink.done();
            return true;
          }
        }
        return false;
      },
      [this, pump](bool) {
        pump->cancel();
        --log_streams_;
      });
}

void HttpServer::serve_events(const Request& req, Response& res) {
  std::shared_ptr<Subscription> subscription = hub_.subscribe();
  if (!subscription) {
    return reply_error(
        res, 503,
        "too many event streams are open (" + std::to_string(kMaxEventStreams) + "); retry later");
  }
  ConnectionProbe probe = ConnectionProbe::of(req);
  res.set_header("X-Accel-Buffering", "no");  // proxies must pass events on at once
  res.set_chunked_content_provider(
      "text/event-stream",
      [subscription, probe](size_t, DataSink& sink) {
        static const std::string kRetry = "retry: 1000\n\n";  // reconnect after a second
        if (!sink.write(kRetry.data(), kRetry.size())) return false;
        while (true) {
          std::vector<Frame> frames = subscription->next(kPoll);
          for (const Frame& frame : frames) {
            if (!sink.write(frame->data(), frame->size())) return false;
          }
          if (subscription->closed()) {
            sink.done();
            return true;
          }
          if (frames.empty() && probe.client_gone()) return false;
        }
      },
      [this, subscription](bool) { hub_.unsubscribe(subscription); });
}

}  // namespace nomad::http
