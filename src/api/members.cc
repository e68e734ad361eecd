#include "api/members.h"

#include <algorithm>

#include "common/quote.h"

namespace nomad::api {
namespace {

Error member_error(Code code, std::string message) { return {code, std::move(message), 0, {}}; }

Error no_membership_error() {
  return member_error(Code::kUnavailable, "this server does not support membership changes");
}

const MemberState* find_member(const MembershipState& state, uint64_t id) {
  for (const auto& m : state.members) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

std::string describe_member(const MemberState& m) {
  return std::string(m.voter ? "a voter" : "a learner") + " at " + m.address;
}

Error member_not_leader(uint64_t leader_id, const std::string& leader_address) {
  if (leader_id == 0) {
    return member_error(Code::kUnavailable, "no leader is elected yet; retry shortly");
  }
  return {Code::kNotLeader,
          "this node is not the leader; the leader is node " + std::to_string(leader_id) + " at " +
              leader_address,
          leader_id, leader_address};
}

Error from_member_result(const MemberChangeResult& r) {
  using C = MemberChangeResult::Code;
  switch (r.code) {
    case C::kCommitted:
      return {};
    case C::kNotLeader:
      return member_not_leader(r.leader_id, r.leader_address);
    case C::kRefused:
      return member_error(Code::kFailedPrecondition, r.detail);
    case C::kRetry:
      return member_error(Code::kUnavailable,
                          "leadership changed before the change committed; it may or may not "
                          "have been applied: check with cluster members and retry");
    case C::kShutdown:
      return member_error(Code::kUnavailable, "the node is shutting down; retry at another node");
    case C::kDiskFull: {
      Error e =
          member_error(Code::kUnavailable, r.detail.empty() ? "the node's disk is full" : r.detail);
      e.retry_elsewhere = true;
      return e;
    }
  }
  return member_error(Code::kInternal, "unknown outcome of a membership change");
}

}  // namespace

Members Service::members() const {
  return Members(membership_, [this](uint64_t id) {
    return read_jobs([id](const jobs::JobStore& s) { return s.agent(id) != nullptr; });
  });
}

Error check_member_address(const std::string& address) {
  if (address.empty()) {
    return member_error(Code::kInvalidArgument,
                        "address is empty: give the host:port the other nodes reach it at");
  }
  if (address.size() > kMaxMemberAddressBytes) {
    return member_error(Code::kInvalidArgument,
                        "address " + common::quote_input(address) + " is longer than " +
                            std::to_string(kMaxMemberAddressBytes) + " bytes");
  }
  for (char c : address) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return member_error(Code::kInvalidArgument,
                          "address " + common::quote_input(address) +
                              " contains a space or a control or non-ASCII character");
    }
  }
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return member_error(Code::kInvalidArgument, "address " + common::quote_input(address) +
                                                    " is not host:port (e.g. 10.0.0.4:50051)");
  }
  std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.front() == '[' ? host.back() != ']' || host.size() < 3
                          : host.find(':') != std::string::npos) {
    return member_error(Code::kInvalidArgument,
                        "address " + common::quote_input(address) +
                            ": write an IPv6 host in brackets, e.g. [::1]:50051");
  }
  bool digits = !port.empty() && port.size() <= 5 &&
                std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoul(port) == 0 || std::stoul(port) > 65535) {
    return member_error(Code::kInvalidArgument, "address " + common::quote_input(address) +
                                                    ": the port must be a number from 1 to 65535");
  }
  return {};
}

nomad_lite::ListMembersResponse to_wire(const MembershipState& state) {
  nomad_lite::ListMembersResponse r;
  r.set_node_id(state.node_id);
  r.set_leader_id(state.leader_id);
  r.set_last_index(state.last_index);
  r.set_membership_index(state.membership_index);
  for (const auto& m : state.members) {
    auto* w = r.add_members();
    w->set_id(m.id);
    w->set_address(m.address);
    w->set_voter(m.voter);
    w->set_leader(m.id == state.leader_id);
    if (state.leader) {
      w->set_match_index(m.match_index);
      w->set_lag(state.last_index > m.match_index ? state.last_index - m.match_index : 0);
      w->set_active(m.active);
    }
  }
  return r;
}

nlohmann::json members_to_json(const nomad_lite::ListMembersResponse& r) {
  bool progress = r.leader_id() != 0 && r.leader_id() == r.node_id();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : r.members()) {
    nlohmann::json j = {{"id", m.id()},
                        {"address", m.address()},
                        {"role", m.voter() ? "voter" : "learner"},
                        {"leader", m.leader()}};
    j["match_index"] = progress ? nlohmann::json(m.match_index()) : nlohmann::json(nullptr);
    j["lag"] = progress ? nlohmann::json(m.lag()) : nlohmann::json(nullptr);
    j["active"] = progress ? nlohmann::json(m.active()) : nlohmann::json(nullptr);
    list.push_back(std::move(j));
  }
  return {{"node_id", r.node_id()},
          {"leader_id", r.leader_id() ? nlohmann::json(r.leader_id()) : nlohmann::json(nullptr)},
          {"last_index", r.last_index()},
          {"membership_index", r.membership_index()},
          {"members", std::move(list)}};
}

Error Members::check_add(const nomad_lite::AddServerRequest& request) {
  if (request.id() == 0) {
    return member_error(Code::kInvalidArgument, "id: 0 is not a node id (use a number from 1)");
  }
  return check_member_address(request.address());
}

Error Members::check_remove(const nomad_lite::RemoveServerRequest& request) {
  if (request.id() == 0) {
    return member_error(Code::kInvalidArgument, "id: 0 is not a node id (use a number from 1)");
  }
  return {};
}

Outcome<nomad_lite::ListMembersResponse> Members::list() const {
  Outcome<nomad_lite::ListMembersResponse> out;
  if (!port_) {
    out.error = no_membership_error();
    return out;
  }
  out.value = to_wire(port_->membership());
  return out;
}

void Members::add_server(const nomad_lite::AddServerRequest& request,
                         std::function<void(Outcome<nomad_lite::MembershipChangeResponse>)> done) {
  if (Error e = check_add(request); e.code != Code::kOk) return done({e, {}});
  if (!port_) return done({no_membership_error(), {}});
  MembershipState state = port_->membership();
  if (!state.leader) return done({member_not_leader(state.leader_id, state.leader_address), {}});
  if (is_agent_ && is_agent_(request.id())) {
    return done({member_error(Code::kAlreadyExists,
                              "id " + std::to_string(request.id()) +
                                  " is a worker-only agent's (nomad-lite agent); a server needs "
                                  "an id no agent has: pick another --node-id"),
                 {}});
  }
  if (const MemberState* m = find_member(state, request.id())) {
    return done({member_error(Code::kAlreadyExists,
                              "node " + std::to_string(m->id) + " is already a member (" +
                                  describe_member(*m) + "); remove it first or pick another id"),
                 {}});
  }
  for (const auto& m : state.members) {
    if (m.address == request.address()) {
      return done({member_error(Code::kAlreadyExists,
                                "address " + request.address() + " already belongs to node " +
                                    std::to_string(m.id) + " (" + describe_member(m) + ")"),
                   {}});
    }
  }
  change({MemberChange::Kind::kAdd, request.id(), request.address()}, std::move(done));
}

void Members::remove_server(
    const nomad_lite::RemoveServerRequest& request,
    std::function<void(Outcome<nomad_lite::MembershipChangeResponse>)> done) {
  if (Error e = check_remove(request); e.code != Code::kOk) return done({e, {}});
  if (!port_) return done({no_membership_error(), {}});
  MembershipState state = port_->membership();
  if (!state.leader) return done({member_not_leader(state.leader_id, state.leader_address), {}});
  const MemberState* m = find_member(state, request.id());
  if (!m) {
    return done({member_error(Code::kNotFound, "node " + std::to_string(request.id()) +
                                                   " is not a member (see cluster members)"),
                 {}});
  }
  size_t voters = std::count_if(state.members.begin(), state.members.end(),
                                [](const MemberState& x) { return x.voter; });
  if (m->voter && voters == 1) {
    return done({member_error(Code::kFailedPrecondition,
                              "node " + std::to_string(m->id) +
                                  " is the last voter: a cluster cannot remove its last voter"),
                 {}});
  }
  change({MemberChange::Kind::kRemove, request.id(), {}}, std::move(done));
}

void Members::change(const MemberChange& change,
                     std::function<void(Outcome<nomad_lite::MembershipChangeResponse>)> done) {
  // Members is a value the callers let go of: the answer, which comes later, keeps the port.
  port_->change_membership(change, [port = port_, done = std::move(done)](MemberChangeResult r) {
    Outcome<nomad_lite::MembershipChangeResponse> out;
    out.error = from_member_result(r);
    if (out.ok()) {
      out.value.set_index(r.index);
      *out.value.mutable_members() = to_wire(port->membership());
    }
    done(std::move(out));
  });
}

void Members::join(const nomad_lite::JoinRequest& request, uint64_t proven, bool tls,
                   std::optional<uint64_t> forwarded_for,
                   std::function<void(Outcome<nomad_lite::JoinResponse>)> done) {
  nomad_lite::AddServerRequest add;
  add.set_id(request.id());
  add.set_address(request.address());
  if (Error e = check_add(add); e.code != Code::kOk) return done({e, {}});
  if (!port_) return done({no_membership_error(), {}});
  MembershipState state = port_->membership();
  // With TLS the joining node proves its id with its certificate: to this node directly, or
  // to the member that forwarded the request (which says what it saw).
  const uint64_t certified = forwarded_for ? *forwarded_for : proven;
  const bool forwarder_ok = !forwarded_for || find_member(state, proven);
  if (tls && (certified != request.id() || !forwarder_ok)) {
    return done({member_error(Code::kPermissionDenied,
                              "the certificate names node " + std::to_string(certified) +
                                  ", not node " + std::to_string(request.id()) +
                                  ": a joining node needs a certificate of the cluster's CA "
                                  "naming its --node-id (nomad-lite tls init DIR --add-node " +
                                  std::to_string(request.id()) + ")"),
                 {}});
  }
  auto answer = [port = port_](uint64_t index, bool already) {
    MembershipState now = port->membership();
    Outcome<nomad_lite::JoinResponse> out;
    out.value.set_leader_id(now.leader_id);
    out.value.set_leader_address(now.leader_address);
    out.value.set_index(index);
    out.value.set_cluster(now.cluster);
    out.value.set_already_member(already);
    for (const auto& m : now.members) {
      auto* w = out.value.add_members();
      w->set_id(m.id);
      w->set_address(m.address);
      w->set_voter(m.voter);
      w->set_leader(m.id == now.leader_id);
    }
    return out;
  };
  if (const MemberState* m = find_member(state, request.id())) {
    // A joining node that restarted before it stored its answer asks again: the same id at
    // the same address is welcome; another address means the id is taken.
    if (m->address == request.address()) return done(answer(state.membership_index, true));
    return done(
        {member_error(Code::kAlreadyExists,
                      "node id " + std::to_string(m->id) + " is taken (" + describe_member(*m) +
                          "); start the new node with another --node-id, or remove node " +
                          std::to_string(m->id) + " first (cluster remove-server " +
                          std::to_string(m->id) + ")"),
         {}});
  }
  add_server(add, [done = std::move(done), answer,
                   address = request.address()](Outcome<nomad_lite::MembershipChangeResponse> r) {
    if (!r.ok()) return done({r.error, {}});
    done(answer(r.value.index(), false));
  });
}

}  // namespace nomad::api
