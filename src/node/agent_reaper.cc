#include "node/agent_reaper.h"

#include <algorithm>

namespace nomad::node {

std::vector<nomad_lite::Command> AgentReaper::collect(const jobs::JobStore& store,
                                                      Clock::time_point now, int64_t wall_ms,
                                                      uint64_t term, const ContactMs& contact_ms) {
  std::vector<nomad_lite::Command> out;
  if (forget_after_.count() <= 0) return out;
  if (term != term_) {
    term_ = term;
    leading_since_ = now;
    next_check_ = now;
    proposed_.clear();
  }
  if (now < next_check_) return out;
  next_check_ = now + kCheckEvery;
  const auto led_for =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - leading_since_).count();
  for (const auto& [id, agent] : store.agents()) {
    if (store.running_on(id) > 0) continue;
    const int64_t heard = contact_ms(id);
    const int64_t silent = heard < 0 ? led_for : std::min(heard, led_for);
    if (silent < forget_after_.count()) continue;
    auto sent = proposed_.find(id);
    if (sent != proposed_.end() && now - sent->second < kRetryAfter) continue;
    proposed_[id] = now;
    nomad_lite::Command c;
    auto* f = c.mutable_agent_forgotten();
    f->set_id(id);
    f->set_at_ms(wall_ms);
    f->set_silent_ms(silent);
    out.push_back(std::move(c));
  }
  // Agents forgotten (or gone from the store otherwise) need no retry entry.
  std::erase_if(proposed_, [&](const auto& p) { return !store.agent(p.first); });
  return out;
}

}  // namespace nomad::node
