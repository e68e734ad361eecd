#include "api/agents.h"

#include "api/members.h"
#include "common/quote.h"
#include "common/unix_time.h"
#include "jobs/agent_ids.h"
#include "jobs/node_capacity.h"

namespace nomad::api {
namespace {

Error agent_error(Code code, std::string message) { return {code, std::move(message), 0, {}}; }

}  // namespace

Error AgentRegistrar::check(const nomad_lite::RegisterAgentRequest& request) {
  if (Error e = check_member_address(request.address()); e.code != Code::kOk) {
    e.message = "agent address: " + e.message + " (--listen)";
    return e;
  }
  if (request.name().size() > kMaxAgentNameBytes) {
    return agent_error(
        Code::kInvalidArgument,
        "agent name is longer than " + std::to_string(kMaxAgentNameBytes) + " bytes (--node-name)");
  }
  if (request.slots() > kMaxAgentSlots) {
    return agent_error(Code::kInvalidArgument, "agent slots " + std::to_string(request.slots()) +
                                                   " is more than " +
                                                   std::to_string(kMaxAgentSlots) + " (--slots)");
  }
  if (Status s = jobs::check_capacity(request.capacity()); !s) {
    return agent_error(Code::kInvalidArgument, "agent " + s.message());
  }
  return {};
}

Outcome<nomad_lite::RegisterAgentResponse> AgentRegistrar::answer(uint64_t id) const {
  MembershipState state = membership_.membership();
  Outcome<nomad_lite::RegisterAgentResponse> out;
  out.value.set_id(id);
  out.value.set_cluster(state.cluster);
  out.value.set_leader_id(state.leader_id);
  out.value.set_leader_address(state.leader_address);
  for (const auto& m : state.members) out.value.add_servers(m.address);
  out.value.set_worker_timeout_ms(settings_.worker_timeout_ms);
  out.value.set_election_timeout_ms(settings_.election_timeout_ms);
  out.value.set_kill_grace_ms(settings_.kill_grace_ms);
  out.value.set_default_timeout_ms(settings_.default_timeout_ms);
  return out;
}

void AgentRegistrar::register_agent(
    const nomad_lite::RegisterAgentRequest& request, const std::string& certificate,
    std::function<void(Outcome<nomad_lite::RegisterAgentResponse>)> done) {
  if (Error e = check(request); e.code != Code::kOk) return done({e, {}});
  MembershipState state = membership_.membership();
  if (!state.leader) {
    Error e = agent_error(state.leader_id ? Code::kNotLeader : Code::kUnavailable,
                          state.leader_id ? "not the leader" : "no leader is elected yet; retry");
    e.leader_id = state.leader_id;
    e.leader_address = state.leader_address;
    return done({e, {}});
  }
  if (!request.cluster().empty() && request.cluster() != state.cluster) {
    return done(
        {agent_error(Code::kFailedPrecondition,
                     "the agent belongs to cluster " + common::quote_input(request.cluster()) +
                         " but these servers are cluster " + state.cluster +
                         ": point --servers at its cluster, or give it a new --data-dir "
                         "to join this one as a new agent"),
         {}});
  }
  nomad_lite::Command command;
  nomad_lite::AgentRegistered* r = command.mutable_agent_registered();
  r->set_name(request.name());
  r->set_address(request.address());
  r->set_at_ms(common::unix_now_ms());
  r->set_certificate(certificate);
  if (request.id() != 0) {
    // The same agent again: its id must be one the cluster gave, to this certificate.
    std::optional<nomad_lite::AgentRegistered> known;
    bool forgotten = false;
    port_.read_jobs([&](const jobs::JobStore& s) {
      if (const auto* a = s.agent(request.id())) known = *a;
      forgotten = !known && request.id() <= s.highest_agent_id();
    });
    if (!known) {
      return done({agent_error(Code::kFailedPrecondition,
                               "agent id " + std::to_string(request.id()) +
                                   (forgotten ? " was forgotten by this cluster (silent longer "
                                                "than the servers' --forget-agents-after)"
                                              : " was never given by this cluster") +
                                   ": remove agent.json from the agent's --data-dir to register "
                                   "as a new agent"),
                   {}});
    }
    if (!certificate.empty() && known->certificate() != certificate) {
      return done({agent_error(Code::kPermissionDenied,
                               "agent " + std::to_string(request.id()) + " was registered by " +
                                   (known->certificate().empty() ? std::string("no certificate")
                                                                 : known->certificate()) +
                                   ", not by " + certificate +
                                   ": an agent registers only with its own certificate"),
                   {}});
    }
    if (known->name() == request.name() && known->address() == request.address()) {
      return done(answer(request.id()));  // nothing to commit: a leader change, a reconnect
    }
    r->set_id(request.id());
  } else {
    std::vector<uint64_t> members;
    for (const auto& m : state.members) members.push_back(m.id);
    r->set_id_floor(jobs::agent_id_floor(members));
  }
  port_.propose(command, std::nullopt, [this, done = std::move(done)](ProposeResult p) {
    if (p.code == ProposeResult::Code::kApplied && p.result.status) {
      return done(answer(p.result.agent_id));
    }
    Error e;
    switch (p.code) {
      case ProposeResult::Code::kApplied:
        e = agent_error(Code::kFailedPrecondition, p.result.status.message());
        break;
      case ProposeResult::Code::kNotLeader:
        e = agent_error(Code::kNotLeader, "not the leader");
        e.leader_id = p.leader_id;
        e.leader_address = p.leader_address;
        break;
      case ProposeResult::Code::kOverloaded:
        e = agent_error(Code::kResourceExhausted, "the leader is overloaded; retry");
        break;
      default:
        e = agent_error(Code::kUnavailable,
                        "the registration may not have committed (" + p.detail + "); retry");
    }
    done({e, {}});
  });
}

}  // namespace nomad::api
