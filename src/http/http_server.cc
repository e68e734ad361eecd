#include "http/http_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "common/thread_name.h"
#include "http/errors.h"
#include "http/limits.h"
#include "http/request_parse.h"
#include "http/route_table.h"
#include "http/thread_pool.h"

namespace nomad::http {

using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

uint64_t content_length(const Request& req) {
  uint64_t n = 0;
  parse_unsigned(req.get_header_value("Content-Length"), UINT64_MAX, &n);
  return n;
}

HttpServer::HttpServer(api::Service& service, HubOptions hub_options, HttpsFiles https)
    : service_(service),
      source_(service),
      hub_(source_, hub_options),
      forwarder_(kForwardTimeout),
      writer_(service, forwarder_, stopping_),
      https_(https.enabled()) {
  if (https_) {
    server_ = std::make_unique<httplib::SSLServer>(https.cert_path.c_str(), https.key_path.c_str());
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  server_->new_task_queue = [] { return new GrowingThreadPool(kMaxThreads); };
  server_->set_payload_max_length(kMaxBodyBytes);
  // Answers go out in more than one write (headers, then body): without this, Nagle holds the
  // second back until the browser's delayed ACK, 40 ms a file.
  server_->set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which would let a second server share a busy
  // port instead of failing to start.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_->set_default_headers({
      {"X-Content-Type-Options", "nosniff"},
      {"Cache-Control", "no-cache"},
      // The dashboard runs only its own files: no inline script or style, no other origin.
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  });
  install_handlers();
  add_api_routes();
  add_write_routes();
  add_stream_routes();
  add_static_routes();  // last: it answers every other GET
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::install_handlers() {
  server_->set_pre_routing_handler([this](const Request& req, Response& res) {
    // A body sent in chunks has no length to check against the limit before it is read.
    if (req.has_header("Transfer-Encoding")) {
      res.set_header("Connection", "close");
      reply_error(res, 411, "send the request body with a Content-Length (not chunked)");
      return HandlerResponse::Handled;
    }
    std::string allowed = allowed_methods(req.path);
    if (!allowed.empty() && !method_allowed(req.method, allowed)) {
      res.set_header("Allow",
                     allowed.find("GET") != std::string::npos ? allowed + ", HEAD" : allowed);
      if (content_length(req) > 0) res.set_header("Connection", "close");
      reply_error(res, 405, req.method + " is not allowed on " + req.path + "; use " + allowed);
      return HandlerResponse::Handled;
    }
    if (req.method == "POST" && req.has_header("Origin")) {
      // Browsers name the page's origin on every cross-site POST: without this check any web
      // page could submit shell commands to a dashboard on localhost.
      std::string origin = req.get_header_value("Origin");
      std::string host = req.get_header_value("Host");
      if (origin != "http://" + host && origin != "https://" + host) {
        if (content_length(req) > 0) res.set_header("Connection", "close");
        reply_error(res, 403, "cross-origin request refused (Origin " + origin + ")");
        return HandlerResponse::Handled;
      }
    }
    // The API needs a token when the server has a --token-file; the dashboard's own files and
    // the health checks do not (the page asks for the token, probes carry none).
    if (req.path.rfind("/api/", 0) == 0) {
      api::Role role = req.method == "POST" ? api::Role::kSubmit : api::Role::kRead;
      api::Error refused = service_.authorize(req.get_header_value("Authorization"), role);
      if (refused.code != api::Code::kOk) {
        if (content_length(req) > 0) res.set_header("Connection", "close");
        if (refused.code == api::Code::kUnauthenticated) {
          res.set_header("WWW-Authenticate", "Bearer realm=\"nomad-lite\"");
        }
        reply_error(res, refused);
        return HandlerResponse::Handled;
      }
    }
    return HandlerResponse::Unhandled;
  });
  // Statuses httplib sets by itself (unknown path, body too large, unparsable request) get a
  // JSON body too; an answer a handler already wrote is left alone.
  server_->set_error_handler(
      httplib::Server::HandlerWithResponse([](const Request&, Response& res) {
        if (!res.body.empty()) return HandlerResponse::Unhandled;
        reply_error(res, res.status, default_error_message(res.status));
        return HandlerResponse::Handled;
      }));
  server_->set_exception_handler([](const Request& req, Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http: {} {} failed: {}", req.method, req.path, what);
    reply_error(res, 500, "internal error: " + what);
  });
}

Status HttpServer::bind(const std::string& host, uint16_t port) {
  address_ = host + ":" + std::to_string(port);
  if (!server_->is_valid()) {
    return Status::error("cannot serve HTTPS on " + address_ +
                         ": the certificate or key could not be loaded (check --tls-cert and "
                         "--tls-key)");
  }
  if (!server_->bind_to_port(host, port)) {
    return Status::error("cannot listen on " + address_ +
                         " for the dashboard: the port is in use or the address is not local; "
                         "pick another --dashboard-port or --bind");
  }
  return Status::ok();
}

void HttpServer::start() {
  hub_.start();
  listener_ = std::thread([this] {
    common::name_this_thread("http-listen");
    server_->listen_after_bind();
  });
  spdlog::info("dashboard and REST API on {}://{}", https_ ? "https" : "http", address_);
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  hub_.stop();  // every event stream ends
  server_->stop();
  if (listener_.joinable()) listener_.join();
}

}  // namespace nomad::http
