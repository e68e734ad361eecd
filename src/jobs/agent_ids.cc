#include "jobs/agent_ids.h"

#include <algorithm>

#include "jobs/job_store.h"

namespace nomad::jobs {

uint64_t agent_id_floor(const std::vector<uint64_t>& member_ids) {
  uint64_t floor = kAgentIdFloor;
  for (uint64_t id : member_ids) floor = std::max(floor, id);
  return floor;
}

uint64_t next_agent_id(const JobStore& store, uint64_t floor) {
  uint64_t highest = std::max({floor, kAgentIdFloor, store.highest_agent_id()});
  // The maps are ordered: their last keys are their largest.
  if (!store.agents().empty()) highest = std::max(highest, store.agents().rbegin()->first);
  if (!store.node_slots().empty()) highest = std::max(highest, store.node_slots().rbegin()->first);
  if (!store.node_scheduling().empty()) {
    highest = std::max(highest, store.node_scheduling().rbegin()->first);
  }
  return highest + 1;
}

}  // namespace nomad::jobs
