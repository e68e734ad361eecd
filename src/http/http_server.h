#pragma once

// The dashboard's HTTP server on --dashboard-port: the REST API and event stream of
// docs/http-api.md, the health checks, and the dashboard's own files. Every answer comes from
// api::Service, as gRPC's do; writes that reach a follower are forwarded to the leader.
//
// Connections are served by WireServer (Boost.Beast, event-driven: an idle connection or an
// event stream costs no thread). Handlers that wait (writes, job output) run on a bounded
// worker pool, never on the I/O threads. One class, its routes split by concern:
// api_routes.cc (reads, health), write_routes.cc (submit, cancel), stream_routes.cc (output,
// events), static_routes.cc (the dashboard).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/service.h"
#include "common/status.h"
#include "http/event_hub.h"
#include "http/event_source.h"
#include "http/job_writer.h"
#include "http/leader_forwarder.h"
#include "http/limits.h"
#include "http/message.h"
#include "http/route_table.h"
#include "metrics/by_code.h"

namespace nomad::http {

class GrowingThreadPool;
class WireServer;

// The request's Content-Length (0 when absent or unreadable).
uint64_t content_length(const Request& req);

// HTTPS when both are set: the node's certificate and key (PEM files).
struct HttpsFiles {
  std::string cert_path;
  std::string key_path;
  bool enabled() const { return !cert_path.empty(); }
};

// Prometheus scrapes here (text exposition format 0.0.4; metrics/registry.h).
inline constexpr const char* kMetricsPath = "/metrics";
// Cluster operations under this prefix take an operator token.
inline constexpr const char* kOperatorPrefix = "/api/operator/";

class HttpServer {
 public:
  explicit HttpServer(api::Service& service, HubOptions hub_options = {}, HttpsFiles https = {},
                      WireLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port taken by bind() (the one the system chose when bound to port 0).
  uint16_t port() const;

  // Job changes for the event stream: the node's jobs listener. Returns at once.
  void jobs_changed(const std::vector<std::string>& ids) { hub_.jobs_changed(ids); }

  // Takes the port; an error names it when it is in use or the address is not local, or when
  // the HTTPS certificate cannot be loaded.
  Status bind(const std::string& host, uint16_t port);
  // Serves on threads of its own until stop().
  void start();
  // Ends every event stream and followed output, then stops serving. Safe to call twice.
  void stop();

 private:
  using Handler = std::function<void(const Request&, Response&)>;
  // Inline: answered on the I/O thread (quick reads). Worker: may wait, so on the pool.
  enum class Run { kInline, kWorker };
  // A route's request counter and latency histogram, labelled "METHOD PATTERN" (bounded: one
  // per route; every request no route takes counts as "unmatched").
  struct RouteMetrics {
    metrics::Histogram* duration;
    std::shared_ptr<metrics::CounterByCode> calls;
  };
  struct Action {
    Handler handler;
    Run run;
    RouteMetrics metrics;
  };
  using Route = RouteTable<Action>::Route;
  // Declares a route (patterns: http/route_table.h); the only place a route is named.
  void route(std::string method, std::string pattern, Handler handler, Run run);
  const Route* find_route(Request& req) const;
  // The checks made before a body is read (chunked, method, origin, token).
  std::optional<Response> check(const Request& req);
  std::optional<Response> check_request(const Request& req);
  void handle(std::shared_ptr<Request> req, std::function<void(Response)> reply);
  void answer(const Route* route, const Request& req, Response& res);

  void add_api_routes();
  void add_write_routes();
  void add_node_routes();      // drain and eligibility (http/node_routes.cc)
  void add_periodic_routes();  // periodic jobs (http/periodic_routes.cc)
  void add_member_routes();    // http/member_routes.cc
  void add_stream_routes();
  void add_static_routes();
  void add_metrics_routes();
  static RouteMetrics route_metrics(const std::string& label);
  void count(const Route* route, int status, std::chrono::steady_clock::duration took);
  void serve_logs(const Request& req, Response& res);
  void serve_events(const Request& req, Response& res);
  // Takes one of the client address's event-stream places; false when it has none left.
  bool take_event_place(const std::string& address);
  void release_event_place(const std::string& address);
  // Runs `work` on the worker pool (work an I/O thread must not wait for).
  void defer(std::function<void()> work);

  api::Service& service_;
  ServiceEventSource source_;
  EventHub hub_;
  LeaderForwarder forwarder_;
  std::atomic<bool> stopping_{false};
  JobWriter writer_;
  std::atomic<size_t> log_streams_{0};
  std::mutex places_mu_;
  std::map<std::string, size_t> event_streams_by_address_;
  std::string address_;  // host:port, for messages
  bool https_ = false;
  RouteTable<Action> routes_;
  RouteMetrics unmatched_ = route_metrics("unmatched");
  std::unique_ptr<GrowingThreadPool> workers_;
  std::unique_ptr<WireServer> wire_;  // last: destroyed first
};

}  // namespace nomad::http
