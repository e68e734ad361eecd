#include "http/event_hub.h"

#include <algorithm>

#include "common/thread_name.h"

namespace nomad::http {

using nlohmann::json;

Frame make_event(std::string_view type, const json& data) {
  // dump() without indentation is one line: a `data:` field must not contain a newline.
  std::string frame = "event: ";
  frame += type;
  frame += "\ndata: ";
  frame += data.dump(-1, ' ', false, json::error_handler_t::replace);
  frame += "\n\n";
  return std::make_shared<const std::string>(std::move(frame));
}

Frame make_comment(std::string_view text) {
  return std::make_shared<const std::string>(": " + std::string(text) + "\n\n");
}

// --- Subscription ---------------------------------------------------------------------------

std::vector<Frame> Subscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || closed_; });
  std::vector<Frame> out(std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

bool Subscription::closed() const {
  std::lock_guard lock(mu_);
  return closed_ && queue_.empty();
}

void Subscription::set_notify(std::function<void()> notify) {
  std::function<void()> now;
  {
    std::lock_guard lock(mu_);
    notify_ = std::move(notify);
    if (!queue_.empty() || closed_) now = notify_;
  }
  if (now) now();
}

bool Subscription::push(const std::vector<Frame>& frames, size_t limit, const Frame& on_overflow) {
  bool open = true;
  std::function<void()> notify;
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    if (queue_.size() + frames.size() > limit) {
      // Behind by more than the limit: what is queued is stale anyway. Tell it to refetch.
      queue_.clear();
      queue_.push_back(on_overflow);
      closed_ = true;
      open = false;
    } else {
      queue_.insert(queue_.end(), frames.begin(), frames.end());
    }
    notify = notify_;
  }
  cv_.notify_all();
  if (notify) notify();
  return open;
}

void Subscription::close() {
  std::function<void()> notify;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    notify = notify_;
  }
  cv_.notify_all();
  if (notify) notify();
}

// --- EventHub -------------------------------------------------------------------------------

namespace {

// What makes a `cluster` event urgent: who leads, in which term, who is alive, and which
// nodes are drained or ineligible.
json cluster_shape(const json& cluster) {
  json nodes = json::array();
  if (cluster.contains("nodes")) {
    for (const auto& n : cluster["nodes"]) {
      json state = n.contains("scheduling") ? n["scheduling"].value("state", json()) : json();
      nodes.push_back({n.value("id", json()), n.value("role", json()), n.value("alive", json()),
                       std::move(state)});
    }
  }
  return {cluster.value("role", json()), cluster.value("term", json()),
          cluster.value("leader_id", json()), std::move(nodes)};
}

bool indexes_moved(const json& a, const json& b) {
  return a.value("commit_index", json()) != b.value("commit_index", json()) ||
         a.value("applied_index", json()) != b.value("applied_index", json());
}

}  // namespace

EventHub::EventHub(EventSource& source, HubOptions options) : source_(source), options_(options) {
  last_keep_alive_at_ = Clock::now();
  overflow_frame_ = make_event(
      "resync", {{"reason", "this client fell behind the event stream; refetch the jobs"}});
}

EventHub::~EventHub() { stop(); }

void EventHub::start() {
  std::lock_guard lock(run_mu_);
  if (running_ || thread_.joinable()) return;
  running_ = true;
  thread_ = std::thread([this] {
    common::name_this_thread("http-events");
    run();
  });
}

void EventHub::stop() {
  {
    std::lock_guard lock(subs_mu_);
    stopped_ = true;
    for (auto& s : subs_) s->close();
    subs_.clear();
    sub_count_ = 0;
  }
  {
    std::lock_guard lock(run_mu_);
    running_ = false;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventHub::run() {
  auto next = Clock::now();
  std::unique_lock lock(run_mu_);
  while (running_) {
    next += options_.window;
    if (run_cv_.wait_until(lock, next, [&] { return !running_; })) break;
    lock.unlock();
    flush(Clock::now());
    lock.lock();
    if (next < Clock::now()) next = Clock::now();  // fell behind: do not burst
  }
}

void EventHub::jobs_changed(const std::vector<std::string>& ids) {
  if (sub_count_.load(std::memory_order_relaxed) == 0) return;  // nobody listens
  std::lock_guard lock(pending_mu_);
  if (overflow_) return;
  for (const auto& id : ids) {
    pending_.insert(id);
    if (pending_.size() > options_.max_jobs_per_window) {
      // The window will say "resync" instead: keep nothing more.
      overflow_ = true;
      pending_.clear();
      return;
    }
  }
}

std::shared_ptr<Subscription> EventHub::subscribe() {
  {
    std::lock_guard lock(subs_mu_);
    if (stopped_ || subs_.size() >= options_.max_subscribers) return nullptr;
  }
  auto sub = std::make_shared<Subscription>();
  // Read outside the lock: a new client must not wait for (or hold up) a window's fan-out.
  sub->push({make_event("cluster", source_.cluster()), make_event("stats", source_.stats())},
            options_.queue_frames, overflow_frame_);
  std::lock_guard lock(subs_mu_);
  if (stopped_ || subs_.size() >= options_.max_subscribers) return nullptr;
  subs_.push_back(sub);
  sub_count_ = subs_.size();
  return sub;
}

void EventHub::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::lock_guard lock(subs_mu_);
  subs_.erase(std::remove(subs_.begin(), subs_.end(), subscription), subs_.end());
  sub_count_ = subs_.size();
}

size_t EventHub::subscribers() const {
  std::lock_guard lock(subs_mu_);
  return subs_.size();
}

std::vector<Frame> EventHub::cluster_frames(Clock::time_point now) {
  json cluster = source_.cluster();
  bool send =
      !last_cluster_ || cluster_shape(cluster) != cluster_shape(*last_cluster_) ||
      (indexes_moved(cluster, *last_cluster_) && now - last_cluster_at_ >= options_.cluster_every);
  if (!send) return {};
  last_cluster_ = cluster;
  last_cluster_at_ = now;
  return {make_event("cluster", cluster)};
}

void EventHub::flush(Clock::time_point now) {
  std::vector<std::string> ids;
  bool overflow = false;
  {
    std::lock_guard lock(pending_mu_);
    ids.assign(pending_.begin(), pending_.end());
    pending_.clear();
    overflow = overflow_;
    overflow_ = false;
  }
  if (sub_count_.load() == 0) {
    // Nobody listens. A new subscriber gets the current cluster and stats from subscribe();
    // the windows after it then send only what changed since.
    last_cluster_ = source_.cluster();
    last_cluster_at_ = last_stats_at_ = now;
    return;
  }
  std::vector<Frame> frames;
  if (overflow) {
    frames.push_back(make_event(
        "resync", {{"reason", "more than " + std::to_string(options_.max_jobs_per_window) +
                                  " jobs changed at once; refetch the jobs"}}));
  } else if (!ids.empty()) {
    std::sort(ids.begin(), ids.end());
    for (auto& [id, job] : source_.jobs(ids)) {
      frames.push_back(job ? make_event("job", *job) : make_event("job_removed", {{"id", id}}));
    }
  }
  for (auto& f : cluster_frames(now)) frames.push_back(std::move(f));
  if (now - last_stats_at_ >= options_.stats_every) {
    frames.push_back(make_event("stats", source_.stats()));
    last_stats_at_ = now;
  }
  if (now - last_keep_alive_at_ >= options_.keep_alive_every) {
    frames.push_back(make_comment("keep-alive"));
    last_keep_alive_at_ = now;
  }
  if (frames.empty()) return;
  std::lock_guard lock(subs_mu_);
  std::erase_if(subs_, [&](const std::shared_ptr<Subscription>& s) {
    return !s->push(frames, options_.queue_frames, overflow_frame_);
  });
  sub_count_ = subs_.size();
}

}  // namespace nomad::http
