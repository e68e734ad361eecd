#include "api/job_changes.h"

namespace nomad::api {

void JobChanges::changed(const std::vector<std::string>& ids) {
  bool any = false;
  {
    std::lock_guard lock(mu_);
    if (watched_.empty()) return;
    for (const auto& id : ids) {
      auto it = watched_.find(id);
      if (it == watched_.end()) continue;
      ++it->second.changes;
      any = true;
    }
  }
  if (any) cv_.notify_all();
}

bool JobChanges::wait_until(const std::string& id, std::chrono::steady_clock::time_point deadline,
                            const std::function<bool()>& ready,
                            const std::function<bool()>& cancelled,
                            std::chrono::milliseconds recheck) {
  std::unique_lock lock(mu_);
  Watch& watch = watched_[id];  // std::map: the reference stays valid while others come and go
  ++watch.waiters;
  bool result = false;
  while (true) {
    // Taken before ready() looks at the store, so a change made meanwhile is not missed.
    uint64_t seen = watch.changes;
    lock.unlock();
    result = ready();
    bool give_up = result || cancelled();
    lock.lock();
    if (give_up || stopped_) break;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    auto wake = std::min(deadline, now + recheck);
    cv_.wait_until(lock, wake, [&] { return stopped_ || watch.changes != seen; });
  }
  if (--watch.waiters == 0) watched_.erase(id);
  return result;
}

void JobChanges::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

}  // namespace nomad::api
