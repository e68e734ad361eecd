#pragma once

// The three kinds of Prometheus metric a node keeps, each one sample (or one histogram) of
// one label set. Updating one is a few relaxed atomic operations: no lock, no allocation, so
// they sit on the hot paths (every submission, every fdatasync). A scrape reads them while
// they change; each value read is whole, and a histogram's _count is the sum of the bucket
// counts it read, so its buckets, +Inf and _count always agree.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace nomad::metrics {

// Only goes up (resets only when the process starts again).
class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Goes up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, increasing), plus their sum.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double value);
  template <class Rep, class Period>
  void observe(std::chrono::duration<Rep, Period> d) {
    observe(std::chrono::duration<double>(d).count());
  }

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1: the last is +Inf
  std::atomic<double> sum_{0};
};

// Bucket bounds, in seconds or bytes, chosen per measurement.
namespace buckets {
// fdatasync and WAL writes: 50 µs (a battery-backed cache) to 2 s (a failing disk).
std::vector<double> disk_seconds();
// Requests: 100 µs to 10 s.
std::vector<double> request_seconds();
// Job waits and placement: 1 ms to 5 min.
std::vector<double> job_wait_seconds();
// Job run times: 10 ms to 6 h.
std::vector<double> job_run_seconds();
// Snapshots: 1 ms to 1 min.
std::vector<double> snapshot_seconds();
}  // namespace buckets

}  // namespace nomad::metrics
