#pragma once

// Ids of worker-only agents (nomad-lite agent). An agent's id names it in attempts
// (Attempt.node_id), reports and status pages, as a server's id does, so it must never be a
// server's id, past or present, and never be given twice:
// - the leader proposes a registration with a floor of max(kAgentIdFloor, every member's id);
// - the store gives the new agent max(floor, the highest agent id ever given, every node id that
//   ever reported its slots or was drained) + 1 when the registration applies, so two
//   registrations in flight get two ids and every replica gives the same one;
// - a server may not join with an id an agent holds (api::Members::join).
// Agents forgotten (AgentForgotten) leave the store, but the highest id ever given is kept
// (JobStoreSnapshot.highest_agent_id), so ids only grow.

#include <cstdint>
#include <vector>

namespace nomad::jobs {

class JobStore;

// Agents get ids above this even in a cluster whose servers have small ids: room for
// servers added later with the usual small ids (1, 2, 3, ...).
inline constexpr uint64_t kAgentIdFloor = 100;

// The floor a leader puts into a registration: max(kAgentIdFloor, every member's id).
uint64_t agent_id_floor(const std::vector<uint64_t>& member_ids);

// The id a new agent gets when its registration applies to `store` with `floor`.
uint64_t next_agent_id(const JobStore& store, uint64_t floor);

}  // namespace nomad::jobs
