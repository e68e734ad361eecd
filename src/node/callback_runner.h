#pragma once

// Runs callbacks on a thread of its own, in the order they were posted. The node loop hands
// it the answers to committed proposals: answering a client (serializing the reply, writing
// it to a socket) is work the loop should not wait for while the next entries could be
// replicating.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nomad::node {

class CallbackRunner {
 public:
  using Callback = std::function<void()>;

  // `thread_name`: as ps and gdb show the thread (at most 15 characters).
  explicit CallbackRunner(const char* thread_name = "replies");
  // Runs whatever is still queued, then stops.
  ~CallbackRunner();

  // Queues a batch: one wake-up of the runner for the whole batch.
  void post(std::vector<Callback> batch);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Callback> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace nomad::node
