#pragma once

// The dashboard's HTTP server on --dashboard-port: the REST API and event stream of
// docs/http-api.md, the health checks, and the dashboard's own files. Every answer comes from
// api::Service, as gRPC's do; writes that reach a follower are forwarded to the leader.
//
// One class, its routes split by concern: api_routes.cc (reads, health), write_routes.cc
// (submit, cancel), stream_routes.cc (output, events), static_routes.cc (the dashboard).

#include <httplib.h>

#include <atomic>
#include <memory>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "api/service.h"
#include "common/status.h"
#include "http/event_hub.h"
#include "http/event_source.h"
#include "http/job_writer.h"
#include "http/leader_forwarder.h"

namespace nomad::http {

// The request's Content-Length (0 when absent or unreadable).
uint64_t content_length(const httplib::Request& req);

// HTTPS when both are set: the node's certificate and key (PEM files).
struct HttpsFiles {
  std::string cert_path;
  std::string key_path;
  bool enabled() const { return !cert_path.empty(); }
};

class HttpServer {
 public:
  explicit HttpServer(api::Service& service, HubOptions hub_options = {}, HttpsFiles https = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

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
  void install_handlers();
  void add_api_routes();
  void add_write_routes();
  void add_stream_routes();
  void add_static_routes();
  void serve_logs(const httplib::Request& req, httplib::Response& res);
  void serve_events(const httplib::Request& req, httplib::Response& res);

  api::Service& service_;
  ServiceEventSource source_;
  EventHub hub_;
  LeaderForwarder forwarder_;
  std::atomic<bool> stopping_{false};
  JobWriter writer_;
  std::atomic<size_t> log_streams_{0};
  std::string address_;  // host:port, for messages
  bool https_ = false;
  std::unique_ptr<httplib::Server> server_;  // an httplib::SSLServer with HTTPS
  std::thread listener_;
};

}  // namespace nomad::http
