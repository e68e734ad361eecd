#pragma once

// A TCP proxy on 127.0.0.1 for tests, which can play a network partition: black_hole() keeps
// every connection open (no FIN, no RST) but stops forwarding its bytes, and connections made
// meanwhile never reach the target, as if their SYN had been dropped. heal() forwards the
// connections made from then on; the muted ones stay mute, the worst case of a partition
// (their retransmission timers backed off for as long as the partition lasted).
//
// Bytes arriving on a muted connection are read and dropped, so that its end's closing is
// seen at once: the test asks who closed a muted connection, and when.

#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace nomad::testing {

class TcpProxy {
 public:
  using Clock = std::chrono::steady_clock;

  // Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:target_port.
  explicit TcpProxy(uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }

  void black_hole();
  void heal();

  // Connections accepted so far (forwarded or not).
  int accepted() const;
  // Of the connections that were forwarded and then muted: how many the client, and how many
  // the target, have closed since.
  int muted_closed_by_client() const;
  int muted_closed_by_target() const;

 private:
  struct Connection {
    int client = -1;
    int target = -1;  // -1: made during a black hole, never reached the target
    bool muted = false;
    bool was_forwarded = false;
  };

  void run();
  void accept_one();
  // Moves what `from` has to `to` (or drops it when muted); false once `from` is closed.
  bool pump(int from, int to, bool muted);
  void wake();

  uint16_t target_port_;
  uint16_t port_ = 0;
  int listener_ = -1;
  int wake_fds_[2] = {-1, -1};
  std::thread thread_;

  mutable std::mutex mu_;
  bool stopping_ = false;
  bool black_holed_ = false;
  int accepted_ = 0;
  int muted_closed_by_client_ = 0;
  int muted_closed_by_target_ = 0;
  std::vector<Connection> connections_;
};

}  // namespace nomad::testing
