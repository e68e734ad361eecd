#include "cli/bench.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

#include "cli/bench_common.h"
#include "cli/client.h"
#include "cli/commands.h"

namespace nomad::cli {
namespace {

using Clock = std::chrono::steady_clock;
using bench::kCallTimeout;

// Calls to SchedulerService, whose stub both loads below use.
class SchedulerRpc : public BenchRpc {
 public:
  std::unique_ptr<Stub> make_stub(std::shared_ptr<grpc::Channel> channel) override {
    auto stub = std::make_unique<SchedulerStub>();
    stub->stub = nomad_lite::SchedulerService::NewStub(std::move(channel));
    return stub;
  }

 protected:
  static nomad_lite::SchedulerService::Stub::async_interface* async(Stub& stub) {
    return static_cast<SchedulerStub&>(stub).stub->async();
  }

 private:
  struct SchedulerStub : Stub {
    std::unique_ptr<nomad_lite::SchedulerService::Stub> stub;
  };
};

// SubmitJob with a command of --payload bytes and a fresh idempotency key per request.
class SubmitJobRpc : public SchedulerRpc {
 public:
  explicit SubmitJobRpc(size_t payload)
      : command_(bench_command(payload)), key_prefix_(random_idempotency_key()) {}

  std::unique_ptr<Request> make_request(uint64_t sequence) override {
    auto request = std::make_unique<SubmitRequest>();
    request->request.set_command(command_);
    request->request.set_idempotency_key(key_prefix_ + "-" + std::to_string(sequence));
    return request;
  }

  void send(Stub& stub, Request& request, grpc::ClientContext* context,
            std::function<void(grpc::Status)> done) override {
    auto& submit = static_cast<SubmitRequest&>(request);
    async(stub)->SubmitJob(context, &submit.request, &submit.response, std::move(done));
  }

 private:
  struct SubmitRequest : Request {
    nomad_lite::SubmitJobRequest request;
    nomad_lite::SubmitJobResponse response;
  };

  const std::string command_;
  const std::string key_prefix_;
};

// GetClusterStatus: a read that no Raft round is part of, so what it costs is the RPC itself.
class ClusterStatusRpc : public SchedulerRpc {
 public:
  std::unique_ptr<Request> make_request(uint64_t) override {
    return std::make_unique<StatusRequest>();
  }

  void send(Stub& stub, Request& request, grpc::ClientContext* context,
            std::function<void(grpc::Status)> done) override {
    auto& status = static_cast<StatusRequest&>(request);
    async(stub)->GetClusterStatus(context, &status.request, &status.response, std::move(done));
  }

 private:
  struct StatusRequest : Request {
    nomad_lite::GetClusterStatusRequest request;
    nomad_lite::GetClusterStatusResponse response;
  };
};

class LoadRun {
 public:
  LoadRun(BenchRpc& rpc, const BenchOptions& options, std::vector<std::string> addresses)
      : rpc_(rpc),
        options_(options),
        targets_(std::move(addresses)),
        stubs_(bench::channels_per_address(options.channels, options.clients),
               [&rpc](const std::string& address, int channel) {
                 return rpc.make_stub(make_channel(address, channel));
               }),
        loop_(options.requests, [this](uint64_t sequence) { start_call(sequence); }) {}

  BenchReport run() {
    start_ = Clock::now();
    stop_issuing_at_ = start_ + options_.duration;
    Clock::time_point finished = loop_.run(options_.clients, stop_issuing_at_);
    std::lock_guard lock(mu_);
    report_.seconds = std::chrono::duration<double>(finished - start_).count();
    return std::move(report_);
  }

  const std::string& first_error() const { return first_error_; }

 private:
  struct Call : bench::CallState {
    std::unique_ptr<BenchRpc::Request> request;
  };

  void start_call(uint64_t sequence) {
    auto* call = new Call;
    call->request = rpc_.make_request(sequence);
    call->target = targets_.current();
    call->started = Clock::now();
    send(call);
  }

  void send(Call* call) {
    grpc::ClientContext* context =
        call->new_context(std::chrono::system_clock::now() + kCallTimeout);
    rpc_.send(*stubs_.get(call->target), *call->request, context,
              [this, call](grpc::Status status) { on_done(call, std::move(status)); });
  }

  void on_done(Call* call, grpc::Status status) {
    if (auto leader = targets_.redirect(*call->context, status, &call->redirects)) {
      call->target = *leader;
      send(call);
      return;
    }
    auto now = Clock::now();
    // UNAVAILABLE is retried for a few seconds, but never past the run's --duration.
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        call->may_retry(now, stop_issuing_at_)) {
      retry_later(call);
      return;
    }
    finish(call, status, now);
  }

  // The server is down or knows no leader: move on to the next address (every later call
  // with it) and try again after a short backoff.
  void retry_later(Call* call) {
    call->target = targets_.move_past(call->target);
    call->retry_later([this, call] { send(call); });
  }

  void finish(Call* call, const grpc::Status& status, Clock::time_point now) {
    auto latency = std::chrono::duration_cast<std::chrono::microseconds>(now - call->started);
    // Deleted before run() can wake up and destroy the channels: a ClientContext holds a
    // channel reference, and dropping the last one on a gRPC callback thread shuts down the
    // callback completion queue from one of its own threads (a crash in gRPC 1.51).
    delete call;
    {
      std::lock_guard lock(mu_);
      if (status.ok()) {
        ++report_.ops;
        report_.latencies_us.push_back(static_cast<uint32_t>(latency.count()));
      } else {
        ++report_.errors;
        if (first_error_.empty()) first_error_ = describe(status);
      }
    }
    loop_.ended(now);
  }

  BenchRpc& rpc_;
  const BenchOptions options_;
  bench::Targets targets_;
  bench::StubPool<BenchRpc::Stub> stubs_;
  Clock::time_point start_, stop_issuing_at_;
  std::mutex mu_;  // report_, first_error_
  BenchReport report_;
  std::string first_error_;
  bench::ClosedLoop loop_;  // last: its calls use the members above
};

}  // namespace

std::string bench_command(size_t payload) {
  if (payload < 4) return "true";
  if (payload < 6) return "true" + std::string(payload - 4, ' ');
  return "true #" + std::string(payload - 6, 'x');
}

nlohmann::ordered_json bench_json(BenchReport report) {
  auto& latencies = report.latencies_us;
  std::sort(latencies.begin(), latencies.end());
  double rate = report.seconds > 0 ? static_cast<double>(report.ops) / report.seconds : 0.0;
  return nlohmann::ordered_json{
      {"ops", report.ops},
      {"errors", report.errors},
      {"seconds", bench::round_to(report.seconds, 3)},
      {"ops_per_sec", bench::round_to(rate, 1)},
      {"p50_ms", bench::percentile_ms(latencies, 0.50)},
      {"p90_ms", bench::percentile_ms(latencies, 0.90)},
      {"p99_ms", bench::percentile_ms(latencies, 0.99)},
      {"p999_ms", bench::percentile_ms(latencies, 0.999)},
  };
}

BenchReport run_load(BenchRpc& rpc, const BenchOptions& options,
                     const std::vector<std::string>& addresses, std::string* first_error) {
  LoadRun load(rpc, options, addresses);
  BenchReport report = load.run();
  *first_error = load.first_error();
  return report;
}

int print_bench_report(BenchReport report, const std::string& first_error, const std::string& what,
                       std::ostream& out, std::ostream& err) {
  uint64_t ops = report.ops, errors = report.errors;
  out << bench_json(std::move(report)).dump() << std::endl;
  if (errors > 0) {
    err << "nomad-lite: bench: " << errors << " " << what << " failed; the first: " << first_error
        << "\n";
  }
  return ops > 0 ? 0 : 1;
}

int run_bench(const BenchOptions& options, const std::vector<std::string>& addresses,
              std::ostream& out, std::ostream& err) {
  if (options.target == "status") {
    ClusterStatusRpc rpc;
    std::string first_error;
    BenchReport report = run_load(rpc, options, addresses, &first_error);
    return print_bench_report(std::move(report), first_error, "status calls", out, err);
  }
  SubmitJobRpc rpc(options.payload);
  std::string first_error;
  BenchReport report = run_load(rpc, options, addresses, &first_error);
  return print_bench_report(std::move(report), first_error, "submissions", out, err);
}

}  // namespace nomad::cli
