#include "node/callback_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace nomad::node {
namespace {

TEST(CallbackRunnerTest, RunsBatchesInOrderOnItsOwnThread) {
  std::vector<int> seen;
  std::thread::id ran_on;
  std::promise<void> done;
  {
    CallbackRunner runner;
    for (int batch = 0; batch < 10; ++batch) {
      std::vector<CallbackRunner::Callback> callbacks;
      for (int i = 0; i < 10; ++i) {
        callbacks.push_back([&, n = batch * 10 + i] {
          seen.push_back(n);
          ran_on = std::this_thread::get_id();
        });
      }
      runner.post(std::move(callbacks));
    }
    runner.post({[&] { done.set_value(); }});
    ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  }
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(CallbackRunnerTest, DestructionRunsWhatIsStillQueued) {
  std::atomic<int> ran{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  {
    CallbackRunner runner;
    // The first callback holds the runner until the rest are queued behind it.
    runner.post({[released] { released.wait(); }});
    std::vector<CallbackRunner::Callback> rest;
    for (int i = 0; i < 50; ++i) rest.push_back([&] { ++ran; });
    runner.post(std::move(rest));
    release.set_value();
  }
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace nomad::node
