#pragma once

// RegisterAgent (InternalService), transport-neutral: a worker-only agent (nomad-lite agent)
// asks the leader for an id, or registers again under the id it kept. A follower answers
// kNotLeader with the leader's address, and the gRPC adapter forwards the request there.
//
// A new agent's id is given by the store when the registration applies (jobs/agent_ids.h).
// With TLS, the agent certificate that registered an id is bound to it: only that certificate
// may register it again or report for it. An agent registering again with nothing changed
// commits nothing: the answer then only says who leads (the agent asks so after a leader
// change).

#include <cstdint>
#include <functional>
#include <string>

#include "api/cluster_port.h"
#include "api/membership_port.h"
#include "api/service.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::api {

// What agents learn at registration and keep to as a server's worker does.
struct AgentSettings {
  uint64_t worker_timeout_ms = 5000;
  uint64_t election_timeout_ms = 150;
  uint64_t kill_grace_ms = 5000;
  uint64_t default_timeout_ms = 0;
};

inline constexpr size_t kMaxAgentNameBytes = 253;
inline constexpr uint32_t kMaxAgentSlots = 100'000;

class AgentRegistrar {
 public:
  AgentRegistrar(ClusterPort& port, MembershipPort& membership, AgentSettings settings)
      : port_(port), membership_(membership), settings_(settings) {}

  // `certificate`: with TLS, the caller's agent certificate name ("agent-K"); "" without TLS.
  void register_agent(const nomad_lite::RegisterAgentRequest& request,
                      const std::string& certificate,
                      std::function<void(Outcome<nomad_lite::RegisterAgentResponse>)> done);

  // The checks of a request without the cluster.
  static Error check(const nomad_lite::RegisterAgentRequest& request);

 private:
  // The answer once the agent holds `id`.
  Outcome<nomad_lite::RegisterAgentResponse> answer(uint64_t id) const;

  ClusterPort& port_;
  MembershipPort& membership_;
  AgentSettings settings_;
};

}  // namespace nomad::api
