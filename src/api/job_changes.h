#pragma once

// Wakes the threads waiting for a job to change (its first attempt, its being applied on this
// node) when the cluster member reports the change, instead of their polling the job store.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace nomad::api {

class JobChanges {
 public:
  // The cluster member's jobs listener: the ids of the jobs that changed. Returns at once.
  void changed(const std::vector<std::string>& ids);

  // Waits until `ready()` holds (checked at once and after each change of job `id`), `deadline`
  // passes, stop() is called or `cancelled()` holds; returns ready()'s last answer. `cancelled`
  // has no signal of its own: it is checked at the latest every `recheck` (a safety net too,
  // should a change go unreported).
  bool wait_until(
      const std::string& id, std::chrono::steady_clock::time_point deadline,
      const std::function<bool()>& ready,
      const std::function<bool()>& cancelled = [] { return false; },
      std::chrono::milliseconds recheck = std::chrono::milliseconds(1000));

  // Ends every wait (the server stops); later waits return at once.
  void stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  struct Watch {
    size_t waiters = 0;
    uint64_t changes = 0;
  };
  std::map<std::string, Watch> watched_;  // only the ids someone waits for
  bool stopped_ = false;
};

}  // namespace nomad::api
