#include "server/agent_mirror.h"

#include <algorithm>

namespace nomad::server {

std::vector<std::string> AgentMirror::apply(const nomad_lite::AgentUpdate& update) {
  if (update.term() < term_) return {};
  if (update.term() == term_ && !update.full() && update.applied_index() < applied_) return {};
  term_ = update.term();
  if (update.full()) store_.mirror_clear();
  for (const auto& id : update.removed()) store_.mirror_erase(id);
  for (const auto& job : update.jobs()) store_.mirror_put(job);
  // A new leader's index may trail what the old one had applied; the worker keeps the highest
  // (an ack of the new leader names a later index anyway: it appended its own entry first).
  applied_ = std::max(applied_, update.applied_index());
  return store_.take_changes();
}

}  // namespace nomad::server
