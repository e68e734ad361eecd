#pragma once

// The backstop of a server's shutdown: once SIGTERM or SIGINT was received, the process
// exits within `limit` whatever holds it up (a gRPC call that never completes, a thread that
// does not stop). Reaching it logs the step that was still running and ends the process with
// _exit. Nothing committed is lost that way: every Raft entry and vote is fsynced to the WAL
// before it is acknowledged, and the WAL recovers from a process that ends at any point (it
// is built to survive SIGKILL and power loss), so an abrupt exit here is a crash it already
// handles.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace nomad::server {

class ShutdownWatchdog {
 public:
  static constexpr int kExitCode = 1;

  // Starts the clock.
  explicit ShutdownWatchdog(std::chrono::milliseconds limit);
  // Stops the clock (the shutdown finished in time).
  ~ShutdownWatchdog();
  ShutdownWatchdog(const ShutdownWatchdog&) = delete;
  ShutdownWatchdog& operator=(const ShutdownWatchdog&) = delete;

  // Names the step the shutdown is in now, for the log line if time runs out.
  void step(const char* what) { step_.store(what); }

 private:
  void watch();

  const std::chrono::steady_clock::time_point deadline_;
  std::atomic<const char*> step_{"starting"};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace nomad::server
