#pragma once

// `nomad-lite bench submit`: keeps a fixed number of SubmitJob calls in flight against a
// cluster (gRPC's callback API, a few channels) and reports committed submissions per second
// and latency percentiles as one JSON line. Like the CLI it follows the leader: a follower's
// FAILED_PRECONDITION answer moves every later call to the leader it names. The load
// generator itself (run_load) is generic over the call it keeps in flight; bench_etcd.h
// drives etcd's KV.Put with it, for comparison.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"

namespace nomad::cli {

// A command of exactly `payload` bytes that does nothing: "true #xxxx..." ("true" padded with
// blanks below 6 bytes, "true" itself below 4).
std::string bench_command(size_t payload);

struct BenchReport {
  uint64_t ops = 0;                    // submissions acknowledged
  uint64_t errors = 0;                 // submissions that failed after redirects and retries
  double seconds = 0;                  // from the first call to the last answer
  std::vector<uint32_t> latencies_us;  // one per acknowledged submission
};

// {"ops", "errors", "seconds", "ops_per_sec", "p50_ms", "p90_ms", "p99_ms", "p999_ms"};
// percentiles by nearest rank, 0 when nothing succeeded.
nlohmann::ordered_json bench_json(BenchReport report);

// One kind of unary call that run_load keeps in flight, made with gRPC's callback API.
class BenchRpc {
 public:
  // What one connection needs to make the call (its stub); one per channel.
  class Stub {
   public:
    virtual ~Stub() = default;
  };
  // One request's messages, kept across its attempts (leader redirects, retries).
  class Request {
   public:
    virtual ~Request() = default;
  };

  virtual ~BenchRpc() = default;
  virtual std::unique_ptr<Stub> make_stub(std::shared_ptr<grpc::Channel> channel) = 0;
  // Request number `sequence` (1, 2, 3, ...): unique within a run.
  virtual std::unique_ptr<Request> make_request(uint64_t sequence) = 0;
  // Sends one attempt of `request` with `context`; `done` runs exactly once, on a gRPC thread.
  // Called from several threads at once.
  virtual void send(Stub& stub, Request& request, grpc::ClientContext* context,
                    std::function<void(grpc::Status)> done) = 0;
};

// Keeps options.clients calls of `rpc` in flight until options.requests were issued or
// options.duration has passed, and waits for the last answer. Every call goes to one server
// at a time: the first address, then the leader a follower names (leader_address_hint), or
// the next address while the current one is UNAVAILABLE (retried for a few seconds). The
// first failure's description goes to *first_error.
BenchReport run_load(BenchRpc& rpc, const BenchOptions& options,
                     const std::vector<std::string>& addresses, std::string* first_error);

// Prints bench_json(report) on `out` as one line, and "N <what> failed; the first: ..." on
// `err` if any failed. Returns 0, or 1 when no call succeeded.
int print_bench_report(BenchReport report, const std::string& first_error, const std::string& what,
                       std::ostream& out, std::ostream& err);

// Runs the benchmark (SubmitJob) and prints bench_json on `out` as one line; a summary of
// errors, if any, on `err`. Returns 0, or 1 when no submission succeeded.
int run_bench(const BenchOptions& options, const std::vector<std::string>& addresses,
              std::ostream& out, std::ostream& err);

}  // namespace nomad::cli
