#pragma once

// The event stream's hub (GET /api/events, docs/http-api.md). The node's loop thread only
// records which jobs changed (jobs_changed: a set insert under a short lock); the hub's own
// thread turns each 100 ms window into events (a job that changed several times is sent once,
// in its latest state) and appends them to every subscriber's bounded queue. A subscriber
// that falls too far behind is dropped (told to resync), so a slow client never slows the
// server or the other clients.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

namespace nomad::http {

// One event as sent on the wire ("event: job\ndata: {...}\n\n"), built once, shared by all.
using Frame = std::shared_ptr<const std::string>;
Frame make_event(std::string_view type, const nlohmann::json& data);
Frame make_comment(std::string_view text);

// What the hub reads: the node (through api::Service) in the server, a fake in tests.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // The cluster object (api::cluster_to_json).
  virtual nlohmann::json cluster() = 0;
  // For each id, the job's summary, or nullopt when it is gone.
  virtual std::vector<std::pair<std::string, std::optional<nlohmann::json>>> jobs(
      const std::vector<std::string>& ids) = 0;
  // The `stats` event's object.
  virtual nlohmann::json stats() = 0;
};

struct HubOptions {
  std::chrono::milliseconds window{100};
  size_t max_jobs_per_window = 500;               // beyond: one `resync` instead
  std::chrono::milliseconds cluster_every{1000};  // while only the commit index moves
  std::chrono::milliseconds stats_every{1000};
  std::chrono::milliseconds keep_alive_every{15000};
  size_t queue_frames = 2048;     // a subscriber this far behind is dropped
  size_t max_subscribers = 2000;  // limits.h kMaxEventStreams
};

class Subscription {
 public:
  // Frames queued since the last call, waiting up to `timeout` for the first. Empty: none came.
  std::vector<Frame> next(std::chrono::milliseconds timeout);
  // No more frames will come: the hub stopped, or this subscriber fell behind (its last
  // frame is then a `resync`).
  bool closed() const;
  // Called (on the hub's thread, without the subscription's lock) when frames are queued or
  // the subscription closes: an event-stream connection is woken, no thread waits for it.
  void set_notify(std::function<void()> notify);

 private:
  friend class EventHub;
  // False once the subscriber is closed.
  bool push(const std::vector<Frame>& frames, size_t limit, const Frame& on_overflow);
  void close();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Frame> queue_;
  bool closed_ = false;
  std::function<void()> notify_;
};

class EventHub {
 public:
  using Clock = std::chrono::steady_clock;

  explicit EventHub(EventSource& source, HubOptions options = {});
  ~EventHub();

  // Runs flush() every window on the hub's thread, until stop().
  void start();
  // Closes every subscription; safe to call twice.
  void stop();

  // Any thread (the node's loop): records ids for the next window and returns.
  void jobs_changed(const std::vector<std::string>& ids);

  // A new subscriber, whose queue starts with the current `cluster` and `stats`; null when
  // max_subscribers are open or the hub is stopped.
  std::shared_ptr<Subscription> subscribe();
  void unsubscribe(const std::shared_ptr<Subscription>& subscription);
  size_t subscribers() const;

  // One window's work at time `now`: the hub's thread calls it; tests call it directly with a
  // clock of their own.
  void flush(Clock::time_point now);

 private:
  void run();
  std::vector<Frame> cluster_frames(Clock::time_point now);

  EventSource& source_;
  const HubOptions options_;

  // Recorded by jobs_changed, taken by flush.
  std::mutex pending_mu_;
  std::unordered_set<std::string> pending_;
  bool overflow_ = false;

  mutable std::mutex subs_mu_;
  std::vector<std::shared_ptr<Subscription>> subs_;
  std::atomic<size_t> sub_count_{0};  // read without the lock by jobs_changed
  bool stopped_ = false;

  // The flush thread's state.
  std::optional<nlohmann::json> last_cluster_;
  Clock::time_point last_cluster_at_{};
  Clock::time_point last_stats_at_{};
  Clock::time_point last_keep_alive_at_{};
  Frame overflow_frame_;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool running_ = false;
  std::thread thread_;
};

}  // namespace nomad::http
