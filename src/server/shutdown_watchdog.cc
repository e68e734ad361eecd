#include "server/shutdown_watchdog.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

namespace nomad::server {

ShutdownWatchdog::ShutdownWatchdog(std::chrono::milliseconds limit)
    : deadline_(std::chrono::steady_clock::now() + limit), thread_([this] { watch(); }) {}

ShutdownWatchdog::~ShutdownWatchdog() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ShutdownWatchdog::watch() {
  std::unique_lock lock(mu_);
  if (cv_.wait_until(lock, deadline_, [this] { return done_; })) return;
  spdlog::error(
      "shutdown still not finished after the time allowed (step: {}); exiting now without "
      "waiting for it (nothing committed is lost: the WAL is synced and recovers on restart)",
      step_.load());
  spdlog::default_logger()->flush();
  _exit(kExitCode);
}

}  // namespace nomad::server
