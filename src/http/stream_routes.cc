// Long answers: a job's output (followed until its attempt ends) and the event stream. An
// event stream holds no thread: its subscription wakes the connection when events are queued.
// Followed output keeps the thread of its LogPump. Each is capped (limits.h), and each ends
// as soon as its client leaves or the server stops.

#include "http/errors.h"
#include "http/http_server.h"
#include "http/limits.h"
#include "http/log_pump.h"
#include "http/request_parse.h"

namespace nomad::http {
namespace {

// How long the output handler waits for the first output before it commits to 200: errors
// found by then (no such attempt, its node unreachable) still get their own status.
constexpr auto kFirstOutputWait = 2s;

// Output still coming, sent as it arrives. Ending it hands the pump to `on_end`: joining the
// pump's thread may take a moment, which an I/O thread must not spend.
class LogStream : public BodyStream {
 public:
  using OnEnd = std::function<void(std::shared_ptr<LogPump>)>;
  LogStream(std::shared_ptr<LogPump> pump, std::string first, OnEnd on_end)
      : pump_(std::move(pump)), first_(std::move(first)), on_end_(std::move(on_end)) {}
  ~LogStream() override { cancel(); }

  void start(std::function<void()> wake) override {
    std::shared_ptr<LogPump> pump = current();
    if (pump) pump->set_notify(std::move(wake));
  }
  Piece take() override {
    Piece piece;
    std::shared_ptr<LogPump> pump = current();
    if (!pump) {
      piece.ended = piece.failed = true;
      return piece;
    }
    LogPump::Batch batch = pump->take(0ms);
    piece.data = std::move(first_) + batch.data;
    first_.clear();
    piece.ended = batch.ended;
    // Cut short by an error: end without the final chunk, so the client sees the answer is
    // incomplete rather than take it for the whole output.
    piece.failed = batch.ended && batch.error.code != api::Code::kOk;
    return piece;
  }
  void cancel() override {
    std::shared_ptr<LogPump> pump;
    OnEnd on_end;
    {
      std::lock_guard lock(mu_);
      pump.swap(pump_);
      on_end.swap(on_end_);
    }
    if (!pump) return;
    pump->set_notify(nullptr);
    pump->cancel();
    on_end(std::move(pump));
  }

 private:
  std::shared_ptr<LogPump> current() {
    std::lock_guard lock(mu_);
    return pump_;
  }

  std::mutex mu_;
  std::shared_ptr<LogPump> pump_;
  std::string first_;
  OnEnd on_end_;
};

// GET /api/events: frames as the hub queues them.
class EventStream : public BodyStream {
 public:
  EventStream(std::shared_ptr<Subscription> subscription, std::function<void()> on_end)
      : subscription_(std::move(subscription)), on_end_(std::move(on_end)) {}
  ~EventStream() override { cancel(); }

  void start(std::function<void()> wake) override { subscription_->set_notify(std::move(wake)); }
  Piece take() override {
    Piece piece;
    if (!retry_sent_) {
      piece.data = "retry: 1000\n\n";  // reconnect after a second
      retry_sent_ = true;
    }
    for (const Frame& frame : subscription_->next(0ms)) piece.data += *frame;
    piece.ended = subscription_->closed();
    return piece;
  }
  void cancel() override {
    std::function<void()> on_end;
    {
      std::lock_guard lock(mu_);
      on_end.swap(on_end_);
    }
    if (!on_end) return;
    subscription_->set_notify(nullptr);
    on_end();
  }

 private:
  std::shared_ptr<Subscription> subscription_;
  bool retry_sent_ = false;
  std::mutex mu_;
  std::function<void()> on_end_;
};

}  // namespace

void HttpServer::add_stream_routes() {
  route(
      "GET", "/api/jobs/{id}/logs",
      [this](const Request& req, Response& res) { serve_logs(req, res); }, Run::kWorker);
  route(
      "GET", "/api/events", [this](const Request& req, Response& res) { serve_events(req, res); },
      Run::kInline);
}

void HttpServer::serve_logs(const Request& req, Response& res) {
  auto request = parse_logs_query(req.matches[1], req.params);
  if (!request.ok()) return reply_error(res, request.error);
  nomad_lite::GetJobStatusRequest get;
  get.set_job_id(request.value.job_id());
  if (api::Error e = service_.await_read(request.value.min_index(), request.value.consistent());
      e.code != api::Code::kOk) {
    return reply_error(res, e);
  }
  // A job not applied here yet is confirmed missing through a ReadIndex before a 404.
  if (!service_.knows_job_confirmed(get.job_id())) {
    if (auto job = service_.get_job(get); !job.ok()) return reply_error(res, job.error);
  }
  if (log_streams_.fetch_add(1) >= kMaxLogStreams) {
    --log_streams_;
    return reply_error(res, 503,
                       "too many outputs are being read at once (" +
                           std::to_string(kMaxLogStreams) + "); retry shortly");
  }
  auto pump = std::make_shared<LogPump>(service_, std::move(request.value), [] { return false; });
  pump->wait_for_news(kFirstOutputWait);
  LogPump::Batch first = pump->take(0ms);
  const std::string type = "text/plain; charset=utf-8";
  if (first.ended) {
    --log_streams_;
    if (first.error.code != api::Code::kOk && first.data.empty())
      return reply_error(res, first.error);
    res.set_content(std::move(first.data), type);
    return;
  }
  auto on_end = [this](std::shared_ptr<LogPump> ended) {
    --log_streams_;
    defer([ended = std::move(ended)]() mutable { ended.reset(); });
  };
  res.set_stream(std::make_shared<LogStream>(pump, std::move(first.data), on_end), type);
}

void HttpServer::serve_events(const Request& req, Response& res) {
  if (!take_event_place(req.remote_addr)) {
    return reply_error(res, 503,
                       "too many event streams are open from this address (" +
                           std::to_string(kMaxEventStreamsPerAddress) + "); retry later");
  }
  std::shared_ptr<Subscription> subscription = hub_.subscribe();
  if (!subscription) {
    release_event_place(req.remote_addr);
    return reply_error(
        res, 503,
        "too many event streams are open (" + std::to_string(kMaxEventStreams) + "); retry later");
  }
  res.set_header("X-Accel-Buffering", "no");  // proxies must pass events on at once
  std::string address = req.remote_addr;
  res.set_stream(std::make_shared<EventStream>(subscription,
                                               [this, subscription, address] {
                                                 hub_.unsubscribe(subscription);
                                                 release_event_place(address);
                                               }),
                 "text/event-stream");
}

}  // namespace nomad::http
