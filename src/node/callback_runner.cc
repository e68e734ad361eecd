#include "node/callback_runner.h"

#include "common/thread_name.h"

namespace nomad::node {

CallbackRunner::CallbackRunner(const char* thread_name)
    : thread_([this, thread_name] {
        common::name_this_thread(thread_name);
        run();
      }) {}

CallbackRunner::~CallbackRunner() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void CallbackRunner::post(std::vector<Callback> batch) {
  if (batch.empty()) return;
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    was_empty = queue_.empty();
    if (was_empty) {
      queue_ = std::move(batch);
    } else {
      for (auto& c : batch) queue_.push_back(std::move(c));
    }
  }
  if (was_empty) cv_.notify_one();
}

void CallbackRunner::run() {
  std::vector<Callback> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      batch.swap(queue_);
    }
    for (auto& c : batch) c();
    batch.clear();
  }
}

}  // namespace nomad::node
