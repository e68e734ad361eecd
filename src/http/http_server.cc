#include "http/http_server.h"

#include <spdlog/spdlog.h>

#include "http/compress.h"
#include "http/errors.h"
#include "http/request_parse.h"
#include "http/route_table.h"
#include "http/thread_pool.h"
#include "http/wire_server.h"

namespace nomad::http {

uint64_t content_length(const Request& req) {
  uint64_t n = 0;
  parse_unsigned(req.get_header_value("Content-Length"), UINT64_MAX, &n);
  return n;
}

HttpServer::HttpServer(api::Service& service, HubOptions hub_options, HttpsFiles https,
                       WireLimits limits)
    : service_(service),
      source_(service),
      hub_(source_, hub_options),
      forwarder_(kForwardTimeout),
      writer_(service, forwarder_, stopping_),
      https_(https.enabled()),
      workers_(std::make_unique<GrowingThreadPool>(kMaxWorkerThreads)) {
  WireOptions options;
  options.tls_cert_path = https.cert_path;
  options.tls_key_path = https.key_path;
  options.limits = limits;
  options.default_headers = {
      {"X-Content-Type-Options", "nosniff"},
      {"Cache-Control", "no-cache"},
      // The dashboard runs only its own files: no inline script or style, no other origin.
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  };
  WireHandlers handlers;
  handlers.check = [this](const Request& req) { return check(req); };
  handlers.handle = [this](std::shared_ptr<Request> req, std::function<void(Response)> reply) {
    handle(std::move(req), std::move(reply));
  };
  handlers.error = [this](int status, const std::string& message) {
    count(nullptr, status, {});
    Response res;
    reply_error(res, status, message);
    return res;
  };
  wire_ = std::make_unique<WireServer>(std::move(options), std::move(handlers));
  add_api_routes();
  add_write_routes();
  add_node_routes();
  add_periodic_routes();
  add_member_routes();
  add_stream_routes();
  add_metrics_routes();
  add_static_routes();
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string method, std::string pattern, Handler handler, Run run) {
  RouteMetrics m = route_metrics(method + " " + pattern);
  routes_.add(std::move(method), std::move(pattern), {std::move(handler), run, std::move(m)});
}

HttpServer::RouteMetrics HttpServer::route_metrics(const std::string& label) {
  auto& registry = metrics::default_registry();
  auto& calls =
      registry.counter("nomad_lite_http_requests_total",
                       "HTTP requests answered, by route and status code.", {"route", "code"});
  auto& duration = registry.histogram(
      "nomad_lite_http_request_duration_seconds",
      "Time from a request's arrival (its body read) to its answer's headers, by route.",
      metrics::buckets::request_seconds(), {"route"});
  constexpr int kMaxStatus = 599;
  return {&duration.with({label}),
          std::make_shared<metrics::CounterByCode>(calls, metrics::LabelValues{label}, kMaxStatus,
                                                   [](int c) { return std::to_string(c); })};
}

void HttpServer::count(const Route* route, int status, std::chrono::steady_clock::duration took) {
  const RouteMetrics& m = route ? route->action.metrics : unmatched_;
  m.duration->observe(took);
  m.calls->at(status).inc();
}

const HttpServer::Route* HttpServer::find_route(Request& req) const {
  std::string id;
  const Route* route = routes_.find(req.method, req.path, &id);
  req.matches = {req.path};
  if (route && !id.empty()) req.matches.push_back(std::move(id));
  return route;
}

uint16_t HttpServer::port() const { return wire_->port(); }

std::optional<Response> HttpServer::check(const Request& req) {
  const auto started = std::chrono::steady_clock::now();
  std::optional<Response> refused = check_request(req);
  if (refused) {
    std::string ignored;
    count(routes_.find(req.method, req.path, &ignored), refused->status,
          std::chrono::steady_clock::now() - started);
  }
  return refused;
}

std::optional<Response> HttpServer::check_request(const Request& req) {
  Response res;
  // A body sent in chunks has no length to check against the limit before it is read.
  if (req.has_header("Transfer-Encoding")) {
    res.set_header("Connection", "close");
    reply_error(res, 411, "send the request body with a Content-Length (not chunked)");
    return res;
  }
  std::string allowed = routes_.allowed(req.path);
  if (!allowed.empty() && !method_allowed(req.method, allowed)) {
    res.set_header("Allow", RouteTable<Action>::allow_header(allowed));
    if (content_length(req) > 0) res.set_header("Connection", "close");
    reply_error(res, 405, req.method + " is not allowed on " + req.path + "; use " + allowed);
    return res;
  }
  if (req.method == "POST" && req.has_header("Origin")) {
    // Browsers name the page's origin on every cross-site POST: without this check any web
    // page could submit shell commands to a dashboard on localhost.
    std::string origin = req.get_header_value("Origin");
    std::string host = req.get_header_value("Host");
    if (origin != "http://" + host && origin != "https://" + host) {
      if (content_length(req) > 0) res.set_header("Connection", "close");
      reply_error(res, 403, "cross-origin request refused (Origin " + origin + ")");
      return res;
    }
  }
  // The API needs a token when the server has a --token-file; the dashboard's own files and
  // the health checks do not (the page asks for the token, probes carry none).
  // /metrics takes a token of the metrics role or any above it.
  const bool scrape = req.path == kMetricsPath;
  if (req.path.rfind("/api/", 0) == 0 || scrape) {
    // Changes to the cluster itself (members, leadership, drain) need the operator role: a
    // read token is told so at once, not sent for a submit token that would be refused too.
    const bool cluster_change =
        req.method != "GET" &&
        (req.path == "/api/cluster/transfer-leader" || req.path.rfind("/api/members", 0) == 0 ||
         (req.path.rfind("/api/nodes/", 0) == 0 &&
          (req.path.ends_with("/drain") || req.path.ends_with("/eligibility"))));
    api::Role role = scrape                                    ? api::Role::kMetrics
                     : req.path.rfind(kOperatorPrefix, 0) == 0 ? api::Role::kOperator
                     : cluster_change                          ? api::Role::kOperator
                     : req.method == "POST"                    ? api::Role::kSubmit
                                                               : api::Role::kRead;
    api::Error refused = service_.authorize(req.get_header_value("Authorization"), role);
    if (refused.code != api::Code::kOk) {
      if (content_length(req) > 0) res.set_header("Connection", "close");
      if (refused.code == api::Code::kUnauthenticated) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"nomad-lite\"");
      }
      reply_error(res, refused);
      return res;
    }
  }
  return std::nullopt;
}

void HttpServer::answer(const Route* route, const Request& req, Response& res) {
  if (!route) {
    reply_error(res, 404, default_error_message(404));
    return;
  }
  try {
    route->action.handler(req, res);
  } catch (const std::exception& e) {
    spdlog::error("http: {} {} failed: {}", req.method, req.path, e.what());
    res = Response();
    reply_error(res, 500, std::string("internal error: ") + e.what());
  } catch (...) {
    spdlog::error("http: {} {} failed: unknown exception", req.method, req.path);
    res = Response();
    reply_error(res, 500, "internal error: unknown exception");
  }
  // An error status without a body gets its JSON body too.
  if (res.status >= 400 && res.body.empty() && !res.stream) {
    reply_error(res, res.status, default_error_message(res.status));
  }
  compress_if_accepted(req, res);
}

void HttpServer::handle(std::shared_ptr<Request> req, std::function<void(Response)> reply) {
  const Route* route = find_route(*req);
  const auto started = std::chrono::steady_clock::now();
  auto run = [this, route, started, req = std::move(req), reply = std::move(reply)] {
    Response res;
    answer(route, *req, res);
    count(route, res.status, std::chrono::steady_clock::now() - started);
    reply(std::move(res));
  };
  if (route && route->action.run == Run::kWorker) {
    workers_->enqueue(std::move(run));
  } else {
    run();
  }
}

void HttpServer::defer(std::function<void()> work) { workers_->enqueue(std::move(work)); }

bool HttpServer::take_event_place(const std::string& address) {
  std::lock_guard lock(places_mu_);
  size_t& n = event_streams_by_address_[address];
  if (n >= kMaxEventStreamsPerAddress) return false;
  ++n;
  return true;
}

void HttpServer::release_event_place(const std::string& address) {
  std::lock_guard lock(places_mu_);
  auto it = event_streams_by_address_.find(address);
  if (it == event_streams_by_address_.end()) return;
  if (--it->second == 0) event_streams_by_address_.erase(it);
}

Status HttpServer::bind(const std::string& host, uint16_t port) {
  address_ = host + ":" + std::to_string(port);
  return wire_->bind(host, port);
}

void HttpServer::start() {
  hub_.start();
  wire_->start();
  spdlog::info("dashboard and REST API on {}://{}", https_ ? "https" : "http", address_);
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  hub_.stop();  // every event stream ends
  wire_->stop();
  workers_->shutdown();
}

}  // namespace nomad::http
