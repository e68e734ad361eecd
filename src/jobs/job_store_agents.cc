// The job store's worker-only agents (AgentRegistered) and the agent's mirror of its jobs.

#include "jobs/agent_ids.h"
#include "jobs/job_store.h"

namespace nomad::jobs {

const nomad_lite::AgentRegistered* JobStore::agent(uint64_t id) const {
  auto it = agents_.find(id);
  return it == agents_.end() ? nullptr : &it->second;
}

ApplyResult JobStore::agent_registered(const nomad_lite::AgentRegistered& command) {
  ApplyResult result;
  nomad_lite::AgentRegistered kept = command;
  kept.clear_id_floor();
  if (command.id() == 0) {
    kept.set_id(next_agent_id(*this, command.id_floor()));
  } else if (const auto* known = agent(command.id())) {
    // A restarted agent registers again: same id, maybe a new address or name. The
    // certificate that registered it stays bound to it.
    if (kept.certificate().empty()) kept.set_certificate(known->certificate());
  } else if (command.id() <= highest_agent_id_) {
    result.status = Status::error(
        "agent id " + std::to_string(command.id()) +
        " was forgotten by this cluster (silent longer than the servers' --forget-agents-after): "
        "remove agent.json from the agent's --data-dir to register as a new agent");
    return result;
  } else {
    result.status = Status::error("agent id " + std::to_string(command.id()) +
                                  " was never given by this cluster");
    return result;
  }
  result.agent_id = kept.id();
  highest_agent_id_ = std::max(highest_agent_id_, kept.id());
  agents_[kept.id()] = std::move(kept);
  ++scheduling_version_;  // new capacity: placement has something new to consider
  return result;
}

ApplyResult JobStore::agent_forgotten(const nomad_lite::AgentForgotten& command) {
  ApplyResult result;
  const uint64_t id = command.id();
  if (!agent(id)) return result;  // proposed twice, or never an agent: nothing to forget
  if (running_on(id) > 0) {
    // Decided on every replica from the same state: the leader's view may have been stale.
    result.status =
        Status::error("agent " + std::to_string(id) + " still has " +
                      std::to_string(running_on(id)) + " attempts running: not forgotten");
    return result;
  }
  agents_.erase(id);
  node_slots_.erase(id);
  node_capacity_.erase(id);
  node_scheduling_.erase(id);
  ++scheduling_version_;
  return result;
}

void JobStore::mirror_put(nomad_lite::Job job) {
  auto it = jobs_.find(job.id());
  if (it != jobs_.end()) unindex(*it->second);
  auto ptr = std::make_shared<const nomad_lite::Job>(std::move(job));
  index(*ptr);
  changes_.push_back(ptr->id());
  jobs_[ptr->id()] = std::move(ptr);
}

void JobStore::mirror_erase(const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  unindex(*it->second);
  changes_.push_back(id);
  jobs_.erase(it);
}

void JobStore::mirror_clear() {
  std::vector<std::string> ids;
  ids.reserve(jobs_.size());
  for (const auto& [id, job] : jobs_) ids.push_back(id);
  for (const auto& id : ids) mirror_erase(id);
}

}  // namespace nomad::jobs
