#include "cli/bench_common.h"

#include <cmath>

#include "cli/client.h"
#include "transport/security.h"

namespace nomad::cli::bench {

std::chrono::milliseconds retry_backoff(int retries) {
  return std::chrono::milliseconds(std::min(10 << std::min(retries, 5), 200));
}

int channels_per_address(int channels, int clients) {
  return channels > 0 ? channels : std::clamp(clients / 64, 1, 4);
}

const std::string& next_address(const std::vector<std::string>& addresses,
                                const std::string& address) {
  auto it = std::find(addresses.begin(), addresses.end(), address);
  size_t next = it == addresses.end() ? 0 : (it - addresses.begin() + 1) % addresses.size();
  return addresses[next];
}

double round_to(double value, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

double percentile_ms(const std::vector<uint32_t>& sorted_us, double p) {
  if (sorted_us.empty()) return 0.0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted_us.size())));
  return round_to(sorted_us[std::clamp<size_t>(rank, 1, sorted_us.size()) - 1] / 1000.0, 3);
}

grpc::ClientContext* CallState::new_context(std::chrono::system_clock::time_point deadline) {
  context = std::make_unique<grpc::ClientContext>();
  transport::add_call_credentials(context.get());
  context->set_deadline(deadline);
  return context.get();
}

bool CallState::may_retry(Clock::time_point now, Clock::time_point limit) {
  if (retries == 0) give_up = std::min(now + kUnavailableBudget, limit);
  return now < give_up;
}

void CallState::retry_later(std::function<void()> send) {
  ++retries;
  redirects = 0;
  alarm = std::make_unique<grpc::Alarm>();
  alarm->Set(std::chrono::system_clock::now() + retry_backoff(retries),
             [send = std::move(send)](bool) { send(); });
}

ClosedLoop::Clock::time_point ClosedLoop::run(int clients, Clock::time_point stop_issuing_at) {
  {
    std::lock_guard lock(mu_);
    stop_issuing_at_ = stop_issuing_at;
  }
  for (int i = 0; i < clients; ++i) {
    uint64_t sequence;
    {
      std::lock_guard lock(mu_);
      if (!reserve_locked(&sequence)) break;
    }
    start_(sequence);
  }
  std::unique_lock lock(mu_);
  if (in_flight_ == 0 && !done_) {  // nothing was started at all
    done_ = true;
    finished_ = Clock::now();
  }
  done_cv_.wait(lock, [&] { return done_; });
  return finished_;
}

void ClosedLoop::ended(Clock::time_point now) {
  uint64_t sequence = 0;
  bool next = false;
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    next = reserve_locked(&sequence);
    if (!next && in_flight_ == 0) {
      done_ = true;
      finished_ = now;
      done_cv_.notify_all();
    }
  }
  if (next) start_(sequence);
}

bool ClosedLoop::reserve_locked(uint64_t* sequence) {
  if (issued_ >= count_ || Clock::now() >= stop_issuing_at_) return false;
  *sequence = ++issued_;
  ++in_flight_;
  return true;
}

Targets::Targets(std::vector<std::string> addresses)
    : addresses_(std::move(addresses)), current_(addresses_.front()) {}

std::string Targets::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::optional<std::string> Targets::redirect(const grpc::ClientContext& context,
                                             const grpc::Status& status, int* redirects) {
  std::string leader = leader_address_hint(context, status);
  if (status.ok() || leader.empty() || *redirects >= kMaxRedirects) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    current_ = leader;
  }
  ++*redirects;
  return leader;
}

std::string Targets::move_past(const std::string& failed) {
  std::lock_guard lock(mu_);
  if (current_ == failed) current_ = next(current_);
  return current_;
}

}  // namespace nomad::cli::bench
