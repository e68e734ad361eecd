#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace nomad::testing {
namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

TcpProxy::TcpProxy(uint16_t target_port) : target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof(addr);
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener_, 64) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error(std::string("tcp proxy: cannot listen on 127.0.0.1: ") +
                             std::strerror(errno));
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  for (auto& c : connections_) {
    close_fd(c.client);
    close_fd(c.target);
  }
  close_fd(listener_);
  close_fd(wake_fds_[0]);
  close_fd(wake_fds_[1]);
}

void TcpProxy::black_hole() {
  {
    std::lock_guard lock(mu_);
    black_holed_ = true;
    for (auto& c : connections_) c.muted = true;
  }
  wake();
}

void TcpProxy::heal() {
  {
    std::lock_guard lock(mu_);
    black_holed_ = false;
  }
  wake();
}

int TcpProxy::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

int TcpProxy::muted_closed_by_client() const {
  std::lock_guard lock(mu_);
  return muted_closed_by_client_;
}

int TcpProxy::muted_closed_by_target() const {
  std::lock_guard lock(mu_);
  return muted_closed_by_target_;
}

void TcpProxy::wake() {
  char byte = 0;
  [[maybe_unused]] ssize_t n = ::write(wake_fds_[1], &byte, 1);
}

void TcpProxy::accept_one() {
  int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  if (client < 0) return;
  Connection c;
  c.client = client;
  ++accepted_;
  if (black_holed_) {
    c.muted = true;
  } else {
    c.target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(target_port_);
    if (c.target < 0 ||
        ::connect(c.target, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close_fd(c.target);
      close_fd(c.client);  // as a refused connection looks to the client
      return;
    }
    c.was_forwarded = true;
  }
  connections_.push_back(c);
}

bool TcpProxy::pump(int from, int to, bool muted) {
  char buffer[64 * 1024];
  ssize_t n = ::recv(from, buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  if (muted) return true;
  for (ssize_t sent = 0; sent < n;) {
    ssize_t m = ::send(to, buffer + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
    if (m < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    sent += m;
  }
  return true;
}

void TcpProxy::run() {
  std::vector<pollfd> fds;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      fds.clear();
      fds.push_back({wake_fds_[0], POLLIN, 0});
      fds.push_back({listener_, POLLIN, 0});
      for (const auto& c : connections_) {
        fds.push_back({c.client, POLLIN, 0});
        fds.push_back({c.target, POLLIN, 0});  // poll ignores fd -1
      }
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return;
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (fds[0].revents) {
      char drain[64];
      while (::read(wake_fds_[0], drain, sizeof(drain)) > 0) {
      }
    }
    // Connections as polled: connections_ changes only on this thread, and only at the end.
    const size_t polled = (fds.size() - 2) / 2;
    for (size_t i = 0; i < polled; ++i) {
      Connection& c = connections_[i];
      bool client_open = true, target_open = true;
      if (fds[2 + 2 * i].revents) client_open = pump(c.client, c.target, c.muted);
      if (c.target >= 0 && fds[3 + 2 * i].revents) {
        target_open = pump(c.target, c.client, c.muted);
      }
      if (c.muted) {
        // A muted connection's ends learn nothing of each other, as across a partition.
        if (!client_open) {
          if (c.was_forwarded) ++muted_closed_by_client_;
          close_fd(c.client);
        }
        if (!target_open) {
          if (c.was_forwarded) ++muted_closed_by_target_;
          close_fd(c.target);
        }
      } else if (!client_open || !target_open) {
        close_fd(c.client);
        close_fd(c.target);
      }
    }
    std::erase_if(connections_, [](const Connection& c) { return c.client < 0 && c.target < 0; });
    if (fds[1].revents) accept_one();
  }
}

}  // namespace nomad::testing
