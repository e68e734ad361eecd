#pragma once

// A job's output for GET /api/jobs/{id}/logs. api::Service::stream_logs blocks until the
// output (or, when followed, the attempt) ends, and only then says whether it failed. The pump
// runs it on its own thread into a bounded buffer, so the handler can still answer with an
// error status when it fails before any output, and otherwise stream what arrives.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "api/service.h"

namespace nomad::http {

class LogPump {
 public:
  // `client_gone` is polled while the output is silent; true ends the stream.
  LogPump(api::Service& service, nomad_lite::JobLogsRequest request,
          std::function<bool()> client_gone);
  ~LogPump();  // cancels and joins
  LogPump(const LogPump&) = delete;
  LogPump& operator=(const LogPump&) = delete;

  struct Batch {
    std::string data;
    bool ended = false;  // nothing follows `data`
    api::Error error;    // why it ended early (kOk: it did not)
  };
  // What arrived since the last call; waits up to `timeout` for something (output or the end).
  Batch take(std::chrono::milliseconds timeout);
  // Waits up to `timeout` for output or the end, taking nothing.
  void wait_for_news(std::chrono::milliseconds timeout);
  void cancel();
  // Called (on the pump's thread) when output arrives or the output ends.
  void set_notify(std::function<void()> notify);

 private:
  bool write(const std::string& data);

  api::Service& service_;
  const std::string job_id_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string buffered_;
  bool ended_ = false;
  bool cancelled_ = false;
  api::Error error_;
  std::function<void()> notify_;
  std::thread thread_;
};

}  // namespace nomad::http
