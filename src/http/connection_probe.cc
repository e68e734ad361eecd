#include "http/connection_probe.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>

namespace nomad::http {
namespace {

// The numeric host and the port of a socket address, as httplib writes remote_addr.
bool host_and_port(const sockaddr_storage& addr, socklen_t len, std::string* host, int* port) {
  char h[NI_MAXHOST], p[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, h, sizeof(h), p, sizeof(p),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  *host = h;
  *port = std::atoi(p);
  return true;
}

bool is_connection(int fd, const httplib::Request& req) {
  sockaddr_storage local{}, peer{};
  socklen_t local_len = sizeof(local), peer_len = sizeof(peer);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) return false;
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) return false;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return false;
  std::string local_host, peer_host;
  int local_port = 0, peer_port = 0;
  return host_and_port(local, local_len, &local_host, &local_port) &&
         local_port == req.local_port && host_and_port(peer, peer_len, &peer_host, &peer_port) &&
         peer_port == req.remote_port && peer_host == req.remote_addr;
}

}  // namespace

ConnectionProbe ConnectionProbe::of(const httplib::Request& req) {
  ConnectionProbe probe;
  if (req.local_port <= 0 || req.remote_port <= 0) return probe;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return probe;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || fd < 0 || fd == dirfd(dir)) continue;
    if (is_connection(static_cast<int>(fd), req)) {
      probe.fd_ = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return probe;
}

bool ConnectionProbe::client_gone() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace nomad::http
