// The HTTP server's pool: it grows only as far as there is work at once, never beyond its
// limit, and runs what was queued beyond the limit once a thread is free.

#include "http/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace nomad::http {
namespace {

using namespace std::chrono_literals;

// Tasks that block until released, counting how many run at once.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int running = 0;
  int done = 0;

  std::function<void()> task() {
    return [this] {
      std::unique_lock lock(mu);
      ++running;
      cv.notify_all();
      cv.wait(lock, [&] { return open; });
      --running;
      ++done;
      cv.notify_all();
    };
  }
  bool wait_for(const std::function<bool()>& condition) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, condition);
  }
};

TEST(GrowingThreadPool, GrowsWithConcurrentWorkUpToItsLimit) {
  GrowingThreadPool pool(4);
  EXPECT_EQ(pool.threads(), 0u);
  Gate gate;
  for (int i = 0; i < 6; ++i) pool.enqueue(gate.task());
  EXPECT_TRUE(gate.wait_for([&] { return gate.running == 4; }));
  EXPECT_EQ(pool.threads(), 4u);
  {
    std::lock_guard lock(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  EXPECT_TRUE(gate.wait_for([&] { return gate.done == 6; })) << "queued tasks ran later";
  pool.shutdown();
}

TEST(GrowingThreadPool, ReusesAnIdleThreadRatherThanStartAnother) {
  GrowingThreadPool pool(8);
  std::atomic<int> ran{0};
  for (int i = 0; i < 20; ++i) {
    pool.enqueue([&] { ++ran; });
    // Wait until it ran and its thread waits again, so an idle thread is there for the next.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while ((ran.load() != i + 1 || pool.idle_threads() != pool.threads()) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  }
  EXPECT_EQ(ran.load(), 20);
  EXPECT_EQ(pool.threads(), 1u);
  pool.shutdown();
}

}  // namespace
}  // namespace nomad::http
