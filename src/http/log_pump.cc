#include "http/log_pump.h"

namespace nomad::http {
namespace {

// Output waiting for the client beyond this stops the reading side until it drains.
constexpr size_t kMaxBuffered = 1 << 20;

}  // namespace

LogPump::LogPump(api::Service& service, nomad_lite::JobLogsRequest request,
                 std::function<bool()> client_gone)
    : service_(service), job_id_(request.job_id()) {
  thread_ = std::thread(
      [this, &service, request = std::move(request), client_gone = std::move(client_gone)] {
        auto cancelled = [&] {
          {
            std::lock_guard lock(mu_);
            if (cancelled_) return true;
          }
          return client_gone();
        };
        api::Error error = service.stream_logs(
            request, [this](const nomad_lite::LogChunk& chunk) { return write(chunk.data()); },
            cancelled);
        std::function<void()> notify;
        {
          std::lock_guard lock(mu_);
          ended_ = true;
          error_ = std::move(error);
          notify = notify_;
        }
        cv_.notify_all();
        if (notify) notify();
      });
}

LogPump::~LogPump() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

void LogPump::cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
  service_.recheck(job_id_);  // a wait for the job's first attempt ends now, not at its recheck
}

void LogPump::set_notify(std::function<void()> notify) {
  std::function<void()> now;
  {
    std::lock_guard lock(mu_);
    notify_ = std::move(notify);
    if (!buffered_.empty() || ended_) now = notify_;
  }
  if (now) now();
}

bool LogPump::write(const std::string& data) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return cancelled_ || buffered_.size() < kMaxBuffered; });
  if (cancelled_) return false;
  if (data.empty()) return true;
  buffered_ += data;
  std::function<void()> notify = notify_;
  lock.unlock();
  cv_.notify_all();
  if (notify) notify();
  return true;
}

LogPump::Batch LogPump::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !buffered_.empty() || ended_; });
  Batch batch;
  batch.data.swap(buffered_);
  batch.ended = ended_;
  if (ended_) batch.error = error_;
  lock.unlock();
  cv_.notify_all();  // room for the writer again
  return batch;
}

void LogPump::wait_for_news(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !buffered_.empty() || ended_; });
}

}  // namespace nomad::http
