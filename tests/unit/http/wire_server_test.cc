// The dashboard port's connection layer on its own: header limits (431), target limit (414),
// slow headers and idle connections closed on time, and HSTS on HTTPS only. The timeouts are
// shortened through WireLimits so that the tests take a second, not minutes.

#include "http/wire_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tls/dev_pki.h"

namespace nomad::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Response json_error(int status, const std::string& message) {
  Response res;
  res.status = status;
  res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
  return res;
}

// A wire server that answers every request 200 {"path": ...}.
class TestServer {
 public:
  explicit TestServer(WireLimits limits = {}, std::string cert = "", std::string key = "") {
    WireOptions options;
    options.limits = limits;
    options.tls_cert_path = cert;
    options.tls_key_path = key;
    options.default_headers = {{"X-Content-Type-Options", "nosniff"}};
    WireHandlers handlers;
    handlers.check = [](const Request&) { return std::optional<Response>(); };
    handlers.handle = [](std::shared_ptr<Request> req, std::function<void(Response)> reply) {
      Response res;
      res.set_content(nlohmann::json{{"path", req->path}}.dump(), "application/json");
      reply(std::move(res));
    };
    handlers.error = json_error;
    server_ = std::make_unique<WireServer>(options, handlers);
    Status s = server_->bind("127.0.0.1", 0);
    EXPECT_TRUE(s) << s.message();
    server_->start();
  }
  int port() const { return server_->port(); }
  WireServer& wire() { return *server_; }

 private:
  std::unique_ptr<WireServer> server_;
};

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server closed: what it answered is still readable
    sent += static_cast<size_t>(n);
  }
}

// Reads until the server closes the connection or `limit` passes; *closed says which.
std::string read_until_closed(int fd, std::chrono::milliseconds limit, bool* closed) {
  std::string out;
  *closed = false;
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      *closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string exchange(int port, const std::string& request) {
  int fd = connect_to(port);
  EXPECT_GE(fd, 0);
  send_all(fd, request);
  bool closed = false;
  std::string out = read_until_closed(fd, 5s, &closed);
  close(fd);
  return out;
}

TEST(WireServer, AnswersAndKeepsTheConnection) {
  TestServer server;
  int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {
    send_all(fd, "GET /a%20b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    std::string out;
    auto deadline = Clock::now() + 5s;
    while (out.find("}") == std::string::npos && !closed && Clock::now() < deadline) {
      out += read_until_closed(fd, 100ms, &closed);
    }
    EXPECT_TRUE(out.starts_with("HTTP/1.1 200")) << out;
    EXPECT_NE(out.find(R"({"path":"/a b"})"), std::string::npos) << out;
    EXPECT_NE(out.find("X-Content-Type-Options: nosniff"), std::string::npos) << out;
    EXPECT_EQ(out.find("Strict-Transport-Security"), std::string::npos) << out;
    EXPECT_FALSE(closed);
  }
  close(fd);
}

TEST(WireServer, MoreThan100HeaderFieldsIs431) {
  TestServer server;
  std::string request = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i) request += "X-H" + std::to_string(i) + ": v\r\n";
  std::string out = exchange(server.port(), request + "\r\n");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 431")) << out.substr(0, 300);
  EXPECT_NE(out.find("more than 100 header fields"), std::string::npos) << out;
  // 100 fields (with Host) are fine.
  std::string fine = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  for (int i = 0; i < 98; ++i) fine += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_TRUE(exchange(server.port(), fine + "\r\n").starts_with("HTTP/1.1 200"));
}

TEST(WireServer, AHeaderBlockOver16KiBIs431) {
  TestServer server;
  std::string big(17 * 1024, 'a');
  std::string out =
      exchange(server.port(), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 431")) << out.substr(0, 300);
  EXPECT_NE(out.find("\"error\""), std::string::npos) << out;
  // A million small headers (13 MiB) are refused as soon as the limit is passed.
  int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  std::string flood = "GET /health/live HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 3000; ++i) flood += "X-" + std::to_string(i) + ": 1\r\n";
  send_all(fd, flood);
  bool closed = false;
  std::string answer = read_until_closed(fd, 5s, &closed);
  close(fd);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 431")) << answer.substr(0, 300);
  EXPECT_TRUE(closed);
}

TEST(WireServer, ATargetOver8KiBIs414) {
  TestServer server;
  std::string long_path = "/" + std::string(8 * 1024 + 1, 'p');
  std::string out = exchange(server.port(), "GET " + long_path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 414")) << out.substr(0, 300);
  EXPECT_NE(out.find("longer than 8192 bytes"), std::string::npos) << out;
  std::string fits = "/" + std::string(8 * 1024 - 1, 'p');
  EXPECT_TRUE(
      exchange(server.port(), "GET " + fits + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
          .starts_with("HTTP/1.1 200"));
}

TEST(WireServer, ATargetLongerThanTheWholeHeaderLimitIsStill414) {
  TestServer server;
  std::string huge_path = "/" + std::string(100 * 1024, 'p');
  std::string out = exchange(server.port(), "GET " + huge_path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 414")) << out.substr(0, 300);
}

TEST(WireServer, ABodyOverTheLimitIs413) {
  WireLimits limits;
  limits.max_body_bytes = 1000;
  TestServer server(limits);
  std::string out =
      exchange(server.port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n" +
                                  std::string(1001, 'b'));
  EXPECT_TRUE(out.starts_with("HTTP/1.1 413")) << out.substr(0, 300);
}

TEST(WireServer, SlowHeadersAreCutOffWith408) {
  WireLimits limits;
  limits.header_timeout = 300ms;
  TestServer server(limits);
  int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  auto start = Clock::now();
  send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n");  // and never the blank line
  bool closed = false;
  std::string out = read_until_closed(fd, 5s, &closed);
  auto took = Clock::now() - start;
  close(fd);
  EXPECT_TRUE(closed) << "the server kept a slow-header connection open";
  EXPECT_TRUE(out.starts_with("HTTP/1.1 408")) << out;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 300ms + 2s);
}

TEST(WireServer, ASilentNewConnectionIsClosedAfterTheHeaderTimeout) {
  WireLimits limits;
  limits.header_timeout = 300ms;
  TestServer server(limits);
  int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  auto start = Clock::now();
  bool closed = false;
  std::string out = read_until_closed(fd, 5s, &closed);
  close(fd);
  EXPECT_TRUE(closed);
  EXPECT_EQ(out, "");  // nothing was asked, so nothing is answered
  EXPECT_LT(Clock::now() - start, 300ms + 2s);
}

TEST(WireServer, AnIdleKeptAliveConnectionClosesAfterTheIdleTimeout) {
  WireLimits limits;
  limits.header_timeout = 5s;
  limits.idle_timeout = 400ms;
  TestServer server(limits);
  int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto start = Clock::now();
  bool closed = false;
  std::string out = read_until_closed(fd, 5s, &closed);
  auto took = Clock::now() - start;
  close(fd);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200")) << out;
  EXPECT_TRUE(closed) << "the idle connection was kept";
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 400ms + 2s);
  EXPECT_TRUE([&] {
    auto deadline = Clock::now() + 5s;
    while (server.wire().open_connections() != 0 && Clock::now() < deadline) {
      pollfd none{};
      poll(&none, 0, 10);
    }
    return server.wire().open_connections() == 0;
  }());
}

TEST(WireServer, ConnectionsBeyondTheCapAreClosedAtOnce) {
  WireLimits limits;
  limits.max_connections = 2;
  TestServer server(limits);
  int first = connect_to(server.port()), second = connect_to(server.port());
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  auto deadline = Clock::now() + 5s;
  while (server.wire().open_connections() < 2 && Clock::now() < deadline) {
    pollfd none{};
    poll(&none, 0, 10);
  }
  ASSERT_EQ(server.wire().open_connections(), 2u);
  int third = connect_to(server.port());
  ASSERT_GE(third, 0);  // accepted by the kernel, then closed by the server
  bool closed = false;
  EXPECT_EQ(read_until_closed(third, 5s, &closed), "");
  EXPECT_TRUE(closed);
  close(third);
  // The two within the cap are served.
  send_all(first, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(read_until_closed(first, 5s, &closed).starts_with("HTTP/1.1 200"));
  close(first);
  close(second);
}

TEST(WireServer, HttpsAnswersCarryHstsAndPlainHttpDoesNot) {
  std::string dir = (std::filesystem::temp_directory_path() / "nomad-wire-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  tls::DevPkiOptions pki;
  pki.dir = dir;
  pki.nodes = 1;
  ASSERT_TRUE(tls::init_dev_pki(pki));
  TestServer https({}, dir + "/" + tls::node_cert_file(1), dir + "/" + tls::node_key_file(1));
  httplib::SSLClient client("127.0.0.1", https.port());
  client.set_ca_cert_path((dir + "/ca.pem").c_str());
  client.enable_server_certificate_verification(true);
  auto res = client.Get("/health/live");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Strict-Transport-Security"), "max-age=31536000");
  // Errors the connection layer gives by itself carry it too.
  auto long_target = client.Get(("/" + std::string(9000, 'p')).c_str());
  ASSERT_TRUE(long_target);
  EXPECT_EQ(long_target->status, 414);
  EXPECT_EQ(long_target->get_header_value("Strict-Transport-Security"), "max-age=31536000");

  TestServer plain;
  httplib::Client http("127.0.0.1", plain.port());
  auto plain_res = http.Get("/health/live");
  ASSERT_TRUE(plain_res);
  EXPECT_FALSE(plain_res->has_header("Strict-Transport-Security"));
  std::filesystem::remove_all(dir);
}

TEST(WireServer, AnUnloadableCertificateIsAClearError) {
  WireOptions options;
  options.tls_cert_path = "/nonexistent/cert.pem";
  options.tls_key_path = "/nonexistent/key.pem";
  WireServer server(options, {});
  Status s = server.bind("127.0.0.1", 0);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("--tls-cert"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace nomad::http
