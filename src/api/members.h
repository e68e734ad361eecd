#pragma once

// The membership commands (cluster members, add-server, remove-server, and the Join of a node
// started with --join): validation and answers in one place, for the gRPC and HTTP adapters.
// A change is proposed on the leader only; a follower answers kNotLeader with the leader's
// address (the CLI and the HTTP adapter retry there; Join is forwarded by the gRPC adapter).

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/membership_port.h"
#include "api/service.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::api {

// Longest address a member may have ("host:port"; a DNS name is at most 253 bytes).
inline constexpr size_t kMaxMemberAddressBytes = 261;

// "host:port" with a port from 1 to 65535, a host of printable characters (an IPv6 host in
// brackets), no spaces: an error names what is wrong; kOk when it is usable.
Error check_member_address(const std::string& address);

class Members {
 public:
  // No port: every call answers UNAVAILABLE ("this server does not support membership").
  // `is_agent`: whether an id is a worker-only agent's (a server may not take it).
  explicit Members(MembershipPort* port, std::function<bool(uint64_t)> is_agent = {})
      : port_(port), is_agent_(std::move(is_agent)) {}

  Outcome<nomad_lite::ListMembersResponse> list() const;
  void add_server(const nomad_lite::AddServerRequest& request,
                  std::function<void(Outcome<nomad_lite::MembershipChangeResponse>)> done);
  void remove_server(const nomad_lite::RemoveServerRequest& request,
                     std::function<void(Outcome<nomad_lite::MembershipChangeResponse>)> done);
  // A node asking to join. `proven` is the node the caller's certificate names (0: not known,
  // no TLS); with TLS it must be the id asked for, or, for a request a member forwarded, the
  // caller must be a member and the certificate it saw (`forwarded_for`: the node it named)
  // must name that id.
  void join(const nomad_lite::JoinRequest& request, uint64_t proven, bool tls,
            std::optional<uint64_t> forwarded_for,
            std::function<void(Outcome<nomad_lite::JoinResponse>)> done);

  // The checks of a request, without the cluster (unit tests, and before any proposal).
  static Error check_add(const nomad_lite::AddServerRequest& request);
  static Error check_remove(const nomad_lite::RemoveServerRequest& request);

 private:
  void change(const MemberChange& change,
              std::function<void(Outcome<nomad_lite::MembershipChangeResponse>)> done);

  MembershipPort* port_;
  std::function<bool(uint64_t)> is_agent_;
};

// The membership as the wire shows it.
nomad_lite::ListMembersResponse to_wire(const MembershipState& state);

// As `cluster members -o json` and GET /api/members print it: {"node_id", "leader_id",
// "last_index", "membership_index", "members": [{"id", "address", "role" (voter or learner),
// "leader", "match_index", "lag", "active"}]}; progress is null unless a leader answered.
nlohmann::json members_to_json(const nomad_lite::ListMembersResponse& members);

}  // namespace nomad::api
