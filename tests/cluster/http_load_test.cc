// The dashboard port of a real server process under many connections: 10,000 idle kept-alive
// connections and 1,000 event streams held at once, with /health/live still answered fast and
// the node's memory bounded; and the per-address cap on event streams. Raw sockets from
// 127.0.0.1 and other loopback addresses (127.0.0.2...), every loop bounded in count and time.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>

#include "cluster_harness.h"

namespace nomad::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A connection from `source` (a 127.x.y.z address) to the node's port; -1 when it fails.
int connect_from(const std::string& source, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool send_text(int fd, const std::string& text) {
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// Reads what each socket received until every one has `want` in it or the deadline passes;
// how many have it.
size_t wait_for_all(const std::vector<int>& fds, const std::string& want,
                    std::chrono::milliseconds limit, std::vector<std::string>* got) {
  got->assign(fds.size(), "");
  std::vector<bool> done(fds.size(), false);
  size_t count = 0;
  auto deadline = Clock::now() + limit;
  while (count < fds.size() && Clock::now() < deadline) {
    std::vector<pollfd> polls;
    std::vector<size_t> which;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (done[i]) continue;
      polls.push_back({fds[i], POLLIN, 0});
      which.push_back(i);
    }
    if (poll(polls.data(), polls.size(), 100) <= 0) continue;
    for (size_t k = 0; k < polls.size(); ++k) {
      if (!(polls[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      size_t i = which[k];
      char buf[2048];
      ssize_t n = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) (*got)[i].append(buf, static_cast<size_t>(n));
      if ((*got)[i].find(want) != std::string::npos || n == 0) {
        done[i] = true;
        if ((*got)[i].find(want) != std::string::npos) ++count;
      }
    }
  }
  return count;
}

uint64_t rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6));
  }
  return 0;
}

void close_all(std::vector<int>* fds) {
  for (int fd : *fds) close(fd);
  fds->clear();
}

struct OneNode {
  OneNode() : c(1, {}, /*dashboards=*/true) {
    c.start_all();
    leader = c.wait_for_leader();
    EXPECT_TRUE(wait_until([&] { return live(); }, 15s)) << "the node serves no HTTP";
  }
  int port() { return c.member(1).dashboard_port; }
  bool live() {
    httplib::Client client("127.0.0.1", port());
    auto res = client.Get("/health/live");
    return res && res->status == 200;
  }
  TestCluster c;
  uint64_t leader = 0;
};

const std::string kEvents = "GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(HttpLoad, EventStreamsAreCappedPerClientAddress) {
  OneNode node;
  ASSERT_NE(node.leader, 0u);
  std::vector<int> streams;
  for (int i = 0; i < 100; ++i) {
    int fd = connect_from("127.0.0.1", node.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_text(fd, kEvents));
    streams.push_back(fd);
  }
  std::vector<std::string> got;
  ASSERT_EQ(wait_for_all(streams, "event: cluster", 30s, &got), 100u);
  int refused = connect_from("127.0.0.1", node.port());
  ASSERT_GE(refused, 0);
  ASSERT_TRUE(send_text(refused, kEvents));
  std::vector<int> one{refused};
  ASSERT_EQ(wait_for_all(one, "}", 10s, &got), 1u);
  EXPECT_TRUE(got[0].starts_with("HTTP/1.1 503")) << got[0];
  EXPECT_NE(got[0].find("too many event streams are open from this address (100)"),
            std::string::npos)
      << got[0];
  close(refused);
  // Another address still gets its stream.
  int other = connect_from("127.0.0.2", node.port());
  ASSERT_GE(other, 0);
  ASSERT_TRUE(send_text(other, kEvents));
  one = {other};
  EXPECT_EQ(wait_for_all(one, "event: cluster", 10s, &got), 1u) << got[0];
  close(other);
  // Closed streams give their places back.
  close_all(&streams);
  EXPECT_TRUE(wait_until(
      [&] {
        int fd = connect_from("127.0.0.1", node.port());
        std::vector<int> again{fd};
        std::vector<std::string> answer;
        bool ok = fd >= 0 && send_text(fd, kEvents) &&
                  wait_for_all(again, "event: cluster", 2s, &answer) == 1;
        if (fd >= 0) close(fd);
        return ok;
      },
      15s));
}

TEST(HttpLoad, TenThousandIdleConnectionsAndAThousandEventStreams) {
  constexpr size_t kIdle = 10000, kStreams = 1000, kAddresses = 20;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  // This process and the node each need a descriptor per connection, the node a reserve too.
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < kIdle + kStreams + 1024 + 512) {
    GTEST_SKIP() << "the open-file limit is " << rl.rlim_cur << "; this test needs "
                 << kIdle + kStreams + 1024 + 512 << " (raise the hard limit: ulimit -Hn)";
  }
  OneNode node;
  ASSERT_NE(node.leader, 0u);
  pid_t pid = node.c.member(1).pid;
  uint64_t rss_before = rss_kib(pid);

  // /health/live on one kept-alive client, timed: while the connections open and once they
  // are all held.
  httplib::Client client("127.0.0.1", node.port());
  client.set_keep_alive(true);
  std::vector<double> ms;
  auto probe = [&] {
    auto start = Clock::now();
    auto res = client.Get("/health/live");
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    return res && res->status == 200;
  };

  // Idle kept-alive connections: each asks once and then says nothing.
  std::vector<int> idle;
  auto deadline = Clock::now() + 120s;
  while (idle.size() < kIdle && Clock::now() < deadline) {
    int fd = connect_from("127.0.0.1", node.port());
    ASSERT_GE(fd, 0) << "connection " << idle.size() << ": " << strerror(errno);
    ASSERT_TRUE(send_text(fd, "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"));
    idle.push_back(fd);
    if (idle.size() % 500 == 0) {
      EXPECT_TRUE(probe()) << "with " << idle.size() << " open";
    }
  }
  ASSERT_EQ(idle.size(), kIdle) << "the loop ran out of time";
  std::vector<std::string> got;
  EXPECT_EQ(wait_for_all(idle, "\"ok\"", 60s, &got), kIdle);

  // Event streams from 127.0.0.2 .. 127.0.0.21, 50 each (under the per-address cap).
  std::vector<int> streams;
  for (size_t i = 0; i < kStreams && Clock::now() < deadline; ++i) {
    std::string source = "127.0.0." + std::to_string(2 + i % kAddresses);
    int fd = connect_from(source, node.port());
    ASSERT_GE(fd, 0) << "stream " << i << ": " << strerror(errno);
    ASSERT_TRUE(send_text(fd, kEvents));
    streams.push_back(fd);
    if (streams.size() % 100 == 0) {
      EXPECT_TRUE(probe()) << "with " << streams.size() << " streams";
    }
  }
  ASSERT_EQ(streams.size(), kStreams);
  ASSERT_EQ(wait_for_all(streams, "event: cluster", 60s, &got), kStreams)
      << "not every event stream got its first event";

  // /health/live while all of that is held.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(probe()) << "request " << i;
  }
  std::sort(ms.begin(), ms.end());
  uint64_t rss = rss_kib(pid);
  std::printf(
      "[ figures  ] %zu idle + %zu event streams: /health/live p50 %.2f ms, p99 %.2f ms, "
      "max %.2f ms (%zu requests, while opening and after); node RSS %.1f MiB (%.1f MiB before)\n",
      kIdle, kStreams, ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back(), ms.size(),
      rss / 1024.0, rss_before / 1024.0);
  EXPECT_LT(ms.back(), 1000.0) << "a generous bound, so that a loaded CI machine does not flake";
  EXPECT_LT(rss, 300u * 1024) << "RSS " << rss << " KiB";
  // Every stream is still open and served.
  EXPECT_EQ(wait_for_all(streams, "event: stats", 10s, &got), kStreams);

  close_all(&idle);
  close_all(&streams);
  client.stop();
  EXPECT_TRUE(wait_until([&] { return node.live(); }, 10s));

  ::kill(pid, SIGTERM);
  auto term = Clock::now();
  int status = 0;
  bool exited = wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 10s);
  if (exited) node.c.member(1).pid = -1;
  ASSERT_TRUE(exited) << "the node did not stop";
  EXPECT_LT(Clock::now() - term, 2s) << "SIGTERM took too long";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace nomad::testing
