// The dashboard port's connections on Boost.Beast and Boost.Asio: a few I/O threads serve
// every connection; each connection is a small object on a strand. The only file that
// includes Beast, which is slow to compile.

#include "http/wire_server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/thread_name.h"

namespace nomad::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

uint64_t raise_open_file_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(rl.rlim_cur);
}

namespace {

// A line in the log at most every 10 s for something an outsider can repeat at will.
class RateLimitedLog {
 public:
  void warn(const std::string& what) {
    std::lock_guard lock(mu_);
    ++count_;
    auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(10)) return;
    spdlog::warn("http: {} ({} time(s) since the last report)", what, count_);
    last_ = now;
    count_ = 0;
  }

 private:
  std::mutex mu_;
  Clock::time_point last_{};
  size_t count_ = 0;
};

std::string status_line(int status) {
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason.data(), reason.size()) +
         "\r\n";
}

std::string to_hex(size_t n) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%zx", n);
  return buf;
}

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void close() = 0;
};

}  // namespace

struct WireServer::Impl {
  Impl(WireOptions o, WireHandlers h) : options(std::move(o)), handlers(std::move(h)) {}

  void accept();
  void on_accept(const error_code& ec, tcp::socket socket);
  void add(uint64_t* id, const std::weak_ptr<ConnectionBase>& c) {
    std::lock_guard lock(registry_mu);
    *id = next_id++;
    registry.emplace(*id, c);
  }
  void remove(uint64_t id) {
    std::lock_guard lock(registry_mu);
    registry.erase(id);
  }

  WireOptions options;
  WireHandlers handlers;
  bool tls = false;
  std::atomic<size_t> connections{0};
  std::mutex registry_mu;
  std::unordered_map<uint64_t, std::weak_ptr<ConnectionBase>> registry;
  uint64_t next_id = 1;  // 0: not registered
  RateLimitedLog refused_log, accept_error_log;
  std::atomic<bool> stopped{false};
  // Declared after what connections use: destroying the context destroys the connections.
  std::unique_ptr<net::ssl::context> ssl;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::steady_timer accept_pause{ioc};
  std::vector<std::thread> threads;
};

namespace {

template <class Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  template <class... Args>
  Connection(WireServer::Impl& server, tcp::socket socket, Args&&... args)
      : server_(server),
        stream_(std::move(socket), std::forward<Args>(args)...),
        deadline_(stream_.get_executor()),
        // Beast does not apply header_limit to a header still coming: the buffer's own limit
        // stops a header that never ends (a million fields) at this size.
        buffer_(header_bytes(server.options.limits)) {
    ++server_.connections;
    error_code ec;
    auto peer = lowest().socket().remote_endpoint(ec);
    if (!ec) remote_addr_ = peer.address().to_string();
  }
  ~Connection() override {
    if (body_) body_->cancel();
    server_.remove(id_);
    --server_.connections;
  }

  void start() {
    server_.add(&id_, this->weak_from_this());
    if constexpr (kTls) {
      lowest().expires_after(server_.options.limits.header_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](const error_code& ec) {
                                self->lowest().expires_never();
                                if (ec) return self->close();
                                self->read_header(true);
                              });
    } else {
      read_header(true);
    }
  }

  void close() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->shut(); });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  const WireLimits& limits() const { return server_.options.limits; }
  // The most a request's header may take in the buffer: target, fields and the rest.
  static size_t header_bytes(const WireLimits& l) {
    return l.max_target_bytes + l.max_header_bytes + 1024;
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // True when the header overflowed before its first line was parsed (the parser sets the
  // target once it has the whole request line): the target is what is long.
  bool request_line_too_long() const { return parser_ && parser_->get().target().empty(); }

  void shut() {
    closed_ = true;
    deadline_.cancel();
    if (body_) {
      body_->cancel();
      body_.reset();
    }
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  // Arms the connection's one deadline; on expiry the pending read is cancelled.
  void arm(std::chrono::milliseconds after) {
    uint64_t generation = ++deadline_generation_;
    deadline_.expires_after(after);
    deadline_.async_wait([self = this->shared_from_this(), generation](const error_code& ec) {
      if (ec || generation != self->deadline_generation_) return;
      self->timed_out_ = true;
      error_code ignored;
      self->lowest().socket().cancel(ignored);
    });
  }
  void disarm() {
    ++deadline_generation_;
    deadline_.cancel();
  }

  // The next request: on a new connection (or with bytes already here) its header within
  // header_timeout; on a kept-alive one, first its first byte within idle_timeout.
  void read_header(bool first) {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(header_bytes(limits())));
    // Unlimited until the checks have seen the header (they come first, as a 401 or 405 does
    // for a request with a large body); then limited to max_body_bytes.
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    timed_out_ = false;
    begun_ = buffer_.size() > 0;
    if (first || begun_) return read_rest_of_header();
    buffer_.shrink_to_fit();  // an idle connection holds no buffer
    arm(limits().idle_timeout);
    stream_.async_read_some(buffer_.prepare(512),
                            [self = this->shared_from_this()](const error_code& ec, size_t n) {
                              self->disarm();
                              if (ec || n == 0) return self->shut();
                              self->buffer_.commit(n);
                              self->begun_ = true;
                              self->read_rest_of_header();
                            });
  }

  void read_rest_of_header() {
    arm(limits().header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](const error_code& ec, size_t) {
                               self->disarm();
                               self->on_header(ec);
                             });
  }

  void on_header(const error_code& ec) {
    if (closed_) return;
    if (ec) {
      if (timed_out_) {
        if (!begun_ && buffer_.size() == 0) return shut();
        return refuse(408, "the request header did not arrive within " +
                               std::to_string(limits().header_timeout.count() / 1000) +
                               " s; send it whole");
      }
      if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        if (request_line_too_long()) {
          return refuse(414, "the request target is longer than " +
                                 std::to_string(limits().max_target_bytes) + " bytes");
        }
        return refuse(431, "the request header is larger than " +
                               std::to_string(limits().max_header_bytes) + " bytes");
      }
      if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
          ec == net::error::connection_reset || ec == net::error::operation_aborted ||
          buffer_.size() == 0) {
        return shut();
      }
      return refuse(400, "the request is malformed (" + ec.message() + ")");
    }
    auto& msg = parser_->get();
    request_ = std::make_shared<Request>();
    Request& req = *request_;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.remote_addr = remote_addr_;
    if (req.target.size() > limits().max_target_bytes) {
      return refuse(414, "the request target is longer than " +
                             std::to_string(limits().max_target_bytes) + " bytes");
    }
    size_t fields = 0, bytes = 0;
    for (const auto& field : msg) {
      ++fields;
      bytes += field.name_string().size() + field.value().size() + 4;
      req.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    }
    if (fields > limits().max_header_fields) {
      return refuse(431, "the request has more than " + std::to_string(limits().max_header_fields) +
                             " header fields");
    }
    if (bytes > limits().max_header_bytes) {
      return refuse(431, "the request header is larger than " +
                             std::to_string(limits().max_header_bytes) + " bytes");
    }
    if (!parse_target(req.target, &req.path, &req.params)) {
      return refuse(400, "the request target must be a path starting with /");
    }
    head_only_ = req.method == "HEAD";
    keep_alive_ = msg.keep_alive();
    bool has_body = msg.chunked() || (msg.has_content_length() && parser_->content_length() &&
                                      *parser_->content_length() > 0);
    if (std::optional<Response> early = server_.handlers.check(req)) {
      if (has_body) keep_alive_ = false;  // the body is not read
      return send(std::move(*early));
    }
    if (parser_->content_length() && *parser_->content_length() > limits().max_body_bytes) {
      keep_alive_ = false;
      Response res =
          server_.handlers.error(413, "the request body is larger than " +
                                          std::to_string(limits().max_body_bytes) + " bytes");
      return send(std::move(res));
    }
    parser_->body_limit(limits().max_body_bytes);
    if (!has_body || parser_->is_done()) return dispatch();
    auto read_body = [self = this->shared_from_this()] {
      self->arm(self->limits().write_timeout);
      bhttp::async_read(self->stream_, self->buffer_, *self->parser_,
                        [self](const error_code& ec, size_t) {
                          self->disarm();
                          if (ec == bhttp::error::body_limit) {
                            self->keep_alive_ = false;
                            return self->send(self->server_.handlers.error(
                                413, "the request body is larger than " +
                                         std::to_string(self->limits().max_body_bytes) + " bytes"));
                          }
                          if (ec) return self->shut();
                          self->dispatch();
                        });
    };
    if (beast::iequals(msg[bhttp::field::expect], "100-continue")) {
      // curl waits for this before sending a body larger than 1 KiB.
      auto cont = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
      lowest().expires_after(limits().write_timeout);
      return net::async_write(
          stream_, net::buffer(*cont),
          [self = this->shared_from_this(), cont, read_body](const error_code& ec, size_t) {
            self->lowest().expires_never();
            if (ec) return self->shut();
            read_body();
          });
    }
    read_body();
  }

  void dispatch() {
    request_->body = parser_->release().body();
    auto self = this->shared_from_this();
    // dispatch: an answer given on the connection's strand (a quick route) is sent at once;
    // one from a worker thread is posted to the strand.
    server_.handlers.handle(std::move(request_), [self](Response res) {
      net::dispatch(self->stream_.get_executor(),
                    [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
    });
  }

  // An answer the connection gives by itself; the connection closes after it.
  void refuse(int status, const std::string& message) {
    keep_alive_ = false;
    head_only_ = false;
    send(server_.handlers.error(status, message));
  }

  void send(Response res) {
    if (closed_) return;
    for (const auto& [name, value] : server_.options.default_headers) {
      if (!res.has_header(name)) res.set_header(name, value);
    }
    if (server_.tls) res.set_header("Strict-Transport-Security", "max-age=31536000");
    if (res.get_header_value("Connection") == "close") keep_alive_ = false;
    if (server_.stopped) keep_alive_ = false;
    if (!keep_alive_) res.set_header("Connection", "close");
    auto out = std::make_shared<std::string>();
    if (res.stream && !head_only_) {
      body_ = std::move(res.stream);
      res.headers.erase("Content-Length");
      res.set_header("Transfer-Encoding", "chunked");
      keep_alive_ = false;  // a stream ends with its connection
    } else {
      if (res.stream) res.stream->cancel();
      res.set_header("Content-Length", std::to_string(res.body.size()));
    }
    *out = status_line(res.status);
    for (const auto& [name, value] : res.headers) *out += name + ": " + value + "\r\n";
    *out += "\r\n";
    if (!head_only_ && !body_) *out += res.body;
    lowest().expires_after(limits().write_timeout);
    net::async_write(stream_, net::buffer(*out),
                     [self = this->shared_from_this(), out](const error_code& ec, size_t) {
                       self->lowest().expires_never();
                       if (ec) return self->shut();
                       if (self->body_) return self->start_stream();
                       if (self->keep_alive_) return self->read_header(false);
                       self->finish();
                     });
  }

  // After a last answer: no more is sent; what the client still sends (the rest of a body
  // that was refused) is read and dropped for a moment, so that the client reads the answer
  // rather than a reset.
  void finish() {
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    drained_ = 0;
    arm(std::chrono::seconds(2));
    drain();
  }
  void drain() {
    buffer_.clear();
    lowest().socket().async_read_some(
        buffer_.prepare(16 * 1024),
        [self = this->shared_from_this()](const error_code& ec, size_t n) {
          self->drained_ += n;
          if (ec || self->drained_ > 2 * self->limits().max_body_bytes) {
            self->disarm();
            return self->shut();
          }
          self->drain();
        });
  }

  // --- streamed bodies ---
  void start_stream() {
    watch_client();
    std::weak_ptr<Connection> weak = this->shared_from_this();
    body_->start([weak] {
      auto self = weak.lock();
      if (!self || self->wake_pending_.exchange(true)) return;
      net::post(self->stream_.get_executor(), [self] {
        self->wake_pending_ = false;
        self->pump();
      });
    });
    pump();
  }

  // A client that leaves while the stream is silent is noticed here, not at the next write.
  void watch_client() {
    lowest().socket().async_wait(
        tcp::socket::wait_read, [self = this->shared_from_this()](const error_code& ec) {
          if (ec || self->closed_) return self->shut();
          char c;
          ssize_t n =
              ::recv(self->lowest().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return self->shut();
          if (n > 0) {
            if constexpr (kTls) return self->shut();  // a TLS client sends only to close
            char scratch[4096];
            while (::recv(self->lowest().socket().native_handle(), scratch, sizeof(scratch),
                          MSG_DONTWAIT) > 0) {
            }
          }
          self->watch_client();
        });
  }

  void pump() {
    if (closed_ || writing_ || !body_) return;
    BodyStream::Piece piece = body_->take();
    auto out = std::make_shared<std::string>();
    if (!piece.data.empty()) *out = to_hex(piece.data.size()) + "\r\n" + piece.data + "\r\n";
    if (piece.ended && !piece.failed) *out += "0\r\n\r\n";
    if (out->empty()) {
      if (piece.ended) shut();  // failed: no final chunk, so the client sees it incomplete
      return;
    }
    bool ended = piece.ended;
    writing_ = true;
    lowest().expires_after(limits().write_timeout);
    net::async_write(stream_, net::buffer(*out),
                     [self = this->shared_from_this(), out, ended](const error_code& ec, size_t) {
                       self->writing_ = false;
                       self->lowest().expires_never();
                       if (ec || ended) return self->shut();
                       self->pump();
                     });
  }

  WireServer::Impl& server_;
  Stream stream_;
  net::steady_timer deadline_;
  uint64_t deadline_generation_ = 0;
  bool timed_out_ = false;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Request> request_;
  std::shared_ptr<BodyStream> body_;
  std::atomic<bool> wake_pending_{false};
  bool writing_ = false;
  bool closed_ = false;
  bool begun_ = false;
  bool keep_alive_ = true;
  bool head_only_ = false;
  size_t drained_ = 0;
  std::string remote_addr_;
  uint64_t id_ = 0;
};

}  // namespace

void WireServer::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](const error_code& ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void WireServer::Impl::on_accept(const error_code& ec, tcp::socket socket) {
  if (stopped || !acceptor.is_open()) return;
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    // Out of descriptors (EMFILE): pause rather than spin on the same error.
    accept_error_log.warn("accepting a dashboard connection failed");
    accept_pause.expires_after(std::chrono::milliseconds(100));
    accept_pause.async_wait([this](const error_code& e) {
      if (!e) accept();
    });
    return;
  }
  if (connections.load() >= options.limits.max_connections) {
    error_code ignored;
    socket.close(ignored);
    refused_log.warn("refused a dashboard connection: " +
                     std::to_string(options.limits.max_connections) + " are open");
  } else {
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls) {
      std::make_shared<Connection<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(socket),
                                                                         *ssl)
          ->start();
    } else {
      std::make_shared<Connection<beast::tcp_stream>>(*this, std::move(socket))->start();
    }
  }
  accept();
}

WireServer::WireServer(WireOptions options, WireHandlers handlers)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handlers))) {}

WireServer::~WireServer() { stop(); }

Status WireServer::bind(const std::string& host, uint16_t port) {
  std::string address = host + ":" + std::to_string(port);
  Impl& s = *impl_;
  if (!s.options.tls_cert_path.empty()) {
    s.ssl = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    s.ssl->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1);
    // An idle TLS connection then holds no read and write buffers (about 70 KiB otherwise):
    // thousands of kept-alive dashboard connections stay cheap.
    SSL_CTX_set_mode(s.ssl->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    // The session cache would otherwise keep up to 20,480 sessions: memory any client can
    // fill by opening connections.
    SSL_CTX_sess_set_cache_size(s.ssl->native_handle(), 1024);
    error_code ec;
    s.ssl->use_certificate_chain_file(s.options.tls_cert_path, ec);
    if (!ec) s.ssl->use_private_key_file(s.options.tls_key_path, net::ssl::context::pem, ec);
    if (ec) {
      return Status::error("cannot serve HTTPS on " + address +
                           ": the certificate or key could not be loaded (check --tls-cert and "
                           "--tls-key)");
    }
    s.tls = true;
  }
  error_code ec;
  auto ip = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (!ec) {
    tcp::endpoint endpoint(ip, port);
    s.acceptor.open(endpoint.protocol(), ec);
    // SO_REUSEADDR only: a second server must not share a busy port.
    if (!ec) s.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) s.acceptor.bind(endpoint, ec);
    if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    error_code ignored;
    s.acceptor.close(ignored);
    return Status::error("cannot listen on " + address +
                         " for the dashboard: the port is in use or the address is not local; "
                         "pick another --dashboard-port or --bind");
  }
  return Status::ok();
}

uint16_t WireServer::port() const {
  error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void WireServer::start() {
  Impl& s = *impl_;
  uint64_t files = raise_open_file_limit();
  size_t fit = files > kReservedFileDescriptors * 2 ? files - kReservedFileDescriptors : files / 2;
  s.options.limits.max_connections = std::min(s.options.limits.max_connections, fit);
  s.accept();
  for (size_t i = 0; i < std::max<size_t>(1, s.options.io_threads); ++i) {
    s.threads.emplace_back([&s] {
      common::name_this_thread("http-io");
      s.ioc.run();
    });
  }
}

void WireServer::stop() {
  Impl& s = *impl_;
  if (s.stopped.exchange(true)) return;
  net::post(s.ioc, [&s] {
    error_code ignored;
    s.acceptor.close(ignored);
    s.accept_pause.cancel();
  });
  std::vector<std::shared_ptr<ConnectionBase>> open;
  {
    std::lock_guard lock(s.registry_mu);
    for (auto& [id, weak] : s.registry) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  for (auto& c : open) c->close();
  open.clear();
  // Let the closes run, then end the threads; what is still queued is destroyed with the
  // context.
  auto deadline = Clock::now() + std::chrono::milliseconds(500);
  while (s.connections.load() > 0 && Clock::now() < deadline && !s.threads.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

size_t WireServer::open_connections() const { return impl_->connections.load(); }

}  // namespace nomad::http
