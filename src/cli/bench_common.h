#pragma once

// What `bench submit` (bench.cc) and `bench jobs` (bench_jobs.cc) share: the retry budget and
// backoff of a call, the order in which addresses are tried, a pool of stubs per address, and
// the percentiles of the JSON report.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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
