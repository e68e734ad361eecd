#pragma once

// What `bench submit` (bench.cc) and `bench jobs` (bench_jobs.cc) share: the closed loop of
// clients, the retry budget and backoff of a call, where calls go (the leader, the next address),
// a pool of stubs per address, and the percentiles of the JSON report.

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace nomad::cli::bench {

inline constexpr auto kCallTimeout = std::chrono::seconds(10);
inline constexpr auto kUnavailableBudget = std::chrono::seconds(5);  // per call, per phase
inline constexpr int kMaxRedirects = 5;

// 20 ms after the first retry, doubling up to 200 ms.
std::chrono::milliseconds retry_backoff(int retries);

// Connections per server: --channels, or one per 64 clients (at most 4).
int channels_per_address(int channels, int clients);

// The address after `address` in `addresses`, wrapping; the first one if it is not there.
const std::string& next_address(const std::vector<std::string>& addresses,
                                const std::string& address);

// Rounded to `decimals` places, so that the JSON shows 12.345, not 12.345000000000001.
double round_to(double value, int decimals);

// The p-th percentile (0 < p <= 1) of sorted latencies in microseconds, in milliseconds to
// three places, by nearest rank; 0 when there are none.
double percentile_ms(const std::vector<uint32_t>& sorted_us, double p);

// What a benchmark's call keeps between its tries (a call's own requests and answers are
// added by each benchmark).
struct CallState {
  using Clock = std::chrono::steady_clock;

  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::Alarm> alarm;
  std::string target;
  Clock::time_point started;
  Clock::time_point give_up{};  // set at the first UNAVAILABLE (of a phase)
  int redirects = 0;
  int retries = 0;

  // A fresh context for the next try: the call credentials, and `deadline`.
  grpc::ClientContext* new_context(std::chrono::system_clock::time_point deadline);
  // Whether the call may try again at `now`: for kUnavailableBudget from its first retry,
  // never past `limit`.
  bool may_retry(Clock::time_point now, Clock::time_point limit);
  // Runs `send` after retry_backoff, counting the retry (the redirects start over).
  void retry_later(std::function<void()> send);
};

// The closed loop the benchmarks drive: up to `clients` units of work at once (a call, or a
// job's calls), each one that ends making room for the next while the budget lasts (`count`
// in all, none started at or after `stop_issuing_at`). Thread-safe.
class ClosedLoop {
 public:
  using Clock = std::chrono::steady_clock;
  // Starts unit `sequence` (1, 2, ...); called outside the loop's lock.
  using Start = std::function<void(uint64_t sequence)>;

  ClosedLoop(uint64_t count, Start start) : count_(count), start_(std::move(start)) {}

  // Starts `clients` units, then waits until every unit started has ended. Returns when the
  // last one ended (now, if none was started).
  Clock::time_point run(int clients, Clock::time_point stop_issuing_at);

  // A unit ended at `now`: starts the next if the budget allows.
  void ended(Clock::time_point now);

 private:
  // Takes the next unit if the budget allows. MUST hold mu_.
  bool reserve_locked(uint64_t* sequence);

  const uint64_t count_;
  const Start start_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  Clock::time_point stop_issuing_at_{}, finished_{};
  uint64_t issued_ = 0;
  uint64_t in_flight_ = 0;
  bool done_ = false;
};

// Where calls go: the first address, the leader once a follower names it, the next address
// once the one in use does not answer. Thread-safe.
class Targets {
 public:
  explicit Targets(std::vector<std::string> addresses);

  // Where a new call goes.
  std::string current() const;
  // The call was refused by a follower that named the leader (leader_address_hint), and has
  // redirects left (kMaxRedirects): new calls go to the leader, and so does this one again;
  // counts the redirect. nullopt otherwise.
  std::optional<std::string> redirect(const grpc::ClientContext& context,
                                      const grpc::Status& status, int* redirects);
  // `failed` did not answer: new calls go to the address after it (unless they moved on
  // already). Where to go now.
  std::string move_past(const std::string& failed);
  // The address after `address`, wrapping.
  const std::string& next(const std::string& address) const {
    return next_address(addresses_, address);
  }

 private:
  const std::vector<std::string> addresses_;
  mutable std::mutex mu_;
  std::string current_;
};

// `per_address` stubs for every address, made on first use and handed out in turn (so calls
// spread over the connections). Thread-safe.
template <class Stub>
class StubPool {
 public:
  using Make = std::function<std::unique_ptr<Stub>(const std::string& address, int channel)>;
  StubPool(int per_address, Make make) : per_address_(per_address), make_(std::move(make)) {}

  Stub* get(const std::string& address) {
    std::lock_guard lock(mu_);
    auto& stubs = stubs_[address];
    if (stubs.empty()) {
      for (int i = 0; i < per_address_; ++i) stubs.push_back(make_(address, i));
    }
    return stubs[next_++ % stubs.size()].get();
  }

 private:
  const int per_address_;
  const Make make_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Stub>>> stubs_;
  size_t next_ = 0;
};

}  // namespace nomad::cli::bench
