#pragma once

// What a node answers on the gRPC health checking protocol (grpc.health.v1.Health, Check and
// Watch), per service name:
// - "" (the node as a whole) and nomad_lite.SchedulerService (the client API) are SERVING
//   while the node knows a leader, NOT_SERVING while it does not: without a leader a write
//   cannot commit, so a load balancer should send clients elsewhere.
// - nomad_lite.RaftService and nomad_lite.InternalService (node to node) are SERVING while the
//   process runs: a node without a leader needs them most, to elect one, so a probe must not
//   take that for a reason to restart it.
// - Every name is NOT_SERVING from shutdown on.
// The statuses go to a setter (the gRPC server's HealthCheckServiceInterface in production, a
// recorder in tests); only changes are passed on.

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace nomad::server {

class HealthStatus {
 public:
  using SetStatus = std::function<void(const std::string& service, bool serving)>;

  // The names the client-facing statuses follow the leader for, and those always serving.
  static const std::vector<std::string>& client_services();
  static const std::vector<std::string>& peer_services();

  // Sets every name at once: no leader known yet.
  explicit HealthStatus(SetStatus set);

  // Thread-safe; from the node's leader listener (node::Node::add_leader_listener).
  void leader_known(bool known);
  // Every name NOT_SERVING, for good: later calls change nothing.
  void shutdown();

 private:
  void set_all(bool client_serving, bool peer_serving);

  std::mutex mu_;
  SetStatus set_;
  std::optional<bool> client_serving_;
  bool shut_down_ = false;
};

}  // namespace nomad::server
