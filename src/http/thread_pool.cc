#include "http/thread_pool.h"

#include "common/thread_name.h"

namespace nomad::http {

void GrowingThreadPool::enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return;
    tasks_.push_back(std::move(task));
    if (tasks_.size() > idle_ && threads_.size() < max_threads_) {
      threads_.emplace_back([this] {
        common::name_this_thread("http-worker");
        work();
      });
    }
  }
  cv_.notify_one();
}

void GrowingThreadPool::shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

size_t GrowingThreadPool::threads() const {
  std::lock_guard lock(mu_);
  return threads_.size();
}

size_t GrowingThreadPool::idle_threads() const {
  std::lock_guard lock(mu_);
  return idle_;
}

void GrowingThreadPool::work() {
  std::unique_lock lock(mu_);
  while (true) {
    ++idle_;
    cv_.wait(lock, [&] { return shutdown_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty()) return;  // shut down, nothing left
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace nomad::http
