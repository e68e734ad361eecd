#pragma once

// The dashboard port's connections: an event-driven HTTP/1.1 server on Boost.Beast (plain or
// TLS), so that an idle connection or an open event stream costs a little memory rather than
// a thread. It reads requests within the limits of limits.h, hands each to the handlers below
// and writes their answers. Beast stays inside wire_server.cc: it is slow to compile.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/limits.h"
#include "http/message.h"

namespace nomad::http {

struct WireOptions {
  std::string tls_cert_path, tls_key_path;                           // both set: HTTPS
  std::vector<std::pair<std::string, std::string>> default_headers;  // on every answer
  WireLimits limits;
  size_t io_threads = 2;
};

struct WireHandlers {
  // Runs when a request's header is read, before its body. An answer given here is sent at
  // once; the body, if any, is then not read and the connection closes after the answer.
  std::function<std::optional<Response>(const Request&)> check;
  // Runs with the whole request (on an I/O thread: hand slow work elsewhere). `reply` must be
  // called once, from any thread.
  std::function<void(std::shared_ptr<Request>, std::function<void(Response)> reply)> handle;
  // A JSON error answer, for what the connection layer refuses by itself (431, 414, 413...).
  std::function<Response(int status, const std::string& message)> error;
};

class WireServer {
 public:
  WireServer(WireOptions options, WireHandlers handlers);
  ~WireServer();
  WireServer(const WireServer&) = delete;
  WireServer& operator=(const WireServer&) = delete;

  // Loads the certificate (HTTPS) and takes the port. The error names what failed.
  Status bind(const std::string& host, uint16_t port);
  uint16_t port() const;
  // Serves on io_threads threads until stop().
  void start();
  // Closes the port and every connection, and joins the threads. Safe to call twice.
  void stop();

  size_t open_connections() const;

  struct Impl;  // wire_server.cc's

 private:
  std::unique_ptr<Impl> impl_;
};

// Raises this process's open-file limit to its hard limit; the new soft limit.
uint64_t raise_open_file_limit();

}  // namespace nomad::http
