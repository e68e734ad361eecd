#include "cli/bench_agents.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "cli/bench.h"
#include "cli/bench_common.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/sim_agent_jobs.h"
#include "cli/sim_agents.h"
#include "transport/security.h"

namespace nomad::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kRegisterBudget = std::chrono::seconds(60);
constexpr auto kConnectBudget = std::chrono::seconds(60);
// Before the idle window: the agents' first reports and the leader's first full updates are
// not idling.
constexpr auto kSettle = std::chrono::seconds(2);
// After the last submission, the run ends when no job has finished for this long.
constexpr auto kDrainQuiet = std::chrono::seconds(10);
constexpr uint64_t kGiB = 1ull << 30;

// Per job of the run (by sequence number, 1..count): when it was submitted, first seen placed
// and seen final, in ns since the load began (0: not yet; stored +1 so that 0 stays free).
class JobTimes {
 public:
  explicit JobTimes(uint64_t count)
      : count_(count),
        submitted_(new std::atomic<int64_t>[count + 1]()),
        placed_(new std::atomic<int64_t>[count + 1]()),
        finished_(new std::atomic<int64_t>[count + 1]()) {}

  void start() { start_ = Clock::now(); }
  void submitted(uint64_t seq) { mark(submitted_.get(), seq); }
  void placed(uint64_t seq) {
    if (mark(placed_.get(), seq)) placed_count_.fetch_add(1);
  }
  void finished(uint64_t seq) {
    if (mark(finished_.get(), seq)) finished_count_.fetch_add(1);
  }
  uint64_t placed_count() const { return placed_count_.load(); }
  uint64_t finished_count() const { return finished_count_.load(); }

  // The latest placement and finish, in seconds since the start; latencies in µs.
  void summarize(AgentsBenchReport* report) const {
    int64_t last_placed = 0, last_finished = 0;
    for (uint64_t s = 1; s <= count_; ++s) {
      last_placed = std::max(last_placed, placed_[s].load());
      int64_t finished = finished_[s].load(), submitted = submitted_[s].load();
      last_finished = std::max(last_finished, finished);
      if (finished && submitted) {
        report->latencies_us.push_back(static_cast<uint32_t>(
            std::clamp<int64_t>((finished - submitted) / 1000, 0, UINT32_MAX)));
      }
    }
    report->placed = placed_count();
    report->finished = finished_count();
    report->placed_seconds = static_cast<double>(last_placed) / 1e9;
    report->finished_seconds = static_cast<double>(last_finished) / 1e9;
  }

 private:
  // Records now for `seq` unless already recorded; true if this call did.
  bool mark(std::atomic<int64_t>* times, uint64_t seq) {
    if (seq == 0 || seq > count_) return false;
    int64_t now =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_).count() + 1;
    int64_t expected = 0;
    return times[seq].compare_exchange_strong(expected, now);
  }

  const uint64_t count_;
  Clock::time_point start_ = Clock::now();
  std::unique_ptr<std::atomic<int64_t>[]> submitted_, placed_, finished_;
  std::atomic<uint64_t> placed_count_{0}, finished_count_{0};
};

// SubmitJob with the run's key prefix and sequence number, its start recorded in JobTimes.
class AgentJobSubmit : public BenchRpc {
 public:
  AgentJobSubmit(std::string command, std::string key_prefix, JobTimes& times)
      : command_(std::move(command)), key_prefix_(std::move(key_prefix)), times_(times) {}

  std::unique_ptr<Stub> make_stub(std::shared_ptr<grpc::Channel> channel) override {
    auto stub = std::make_unique<SchedulerStub>();
    stub->stub = nomad_lite::SchedulerService::NewStub(std::move(channel));
    return stub;
  }

  std::unique_ptr<Request> make_request(uint64_t sequence) override {
    auto request = std::make_unique<SubmitRequest>();
    request->request.set_command(command_);
    request->request.set_idempotency_key(key_prefix_ + "-" + std::to_string(sequence));
    times_.submitted(sequence);
    return request;
  }

  void send(Stub& stub, Request& request, grpc::ClientContext* context,
            std::function<void(grpc::Status)> done) override {
    auto& submit = static_cast<SubmitRequest&>(request);
    static_cast<SchedulerStub&>(stub).stub->async()->SubmitJob(context, &submit.request,
                                                               &submit.response, std::move(done));
  }

 private:
  struct SchedulerStub : Stub {
    std::unique_ptr<nomad_lite::SchedulerService::Stub> stub;
  };
  struct SubmitRequest : Request {
    nomad_lite::SubmitJobRequest request;
    nomad_lite::SubmitJobResponse response;
  };

  const std::string command_;
  const std::string key_prefix_;
  JobTimes& times_;
};

// The leader's address as the first server that knows it says, or "".
std::string ask_leader(const std::vector<std::string>& addresses, Clock::time_point deadline) {
  do {
    for (const auto& address : addresses) {
      auto stub = nomad_lite::SchedulerService::NewStub(make_channel(address));
      grpc::ClientContext context;
      transport::add_call_credentials(&context);
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      nomad_lite::GetClusterStatusRequest request;
      nomad_lite::GetClusterStatusResponse response;
      if (stub->GetClusterStatus(&context, request, &response).ok() &&
          !response.leader_address().empty()) {
        return response.leader_address();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a backoff between rounds
  } while (Clock::now() < deadline);
  return "";
}

double loadavg_now() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  return in >> one ? one : -1;
}

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Polls `done` every 10 ms until it holds or `deadline` passes.
template <class Condition>
bool wait_until(Condition done, Clock::time_point deadline) {
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Every connection is a descriptor: 1,000 agents need more than the usual soft limit of 1,024.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

nlohmann::ordered_json mib(const std::optional<ProcessSample>& sample) {
  if (!sample) return nullptr;
  return bench::round_to(static_cast<double>(sample->rss_bytes) / (1 << 20), 1);
}

}  // namespace

nlohmann::ordered_json bench_agents_json(AgentsBenchReport r) {
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  auto rate = [](uint64_t n, double seconds) {
    return seconds > 0 ? bench::round_to(static_cast<double>(n) / seconds, 1) : 0.0;
  };
  nlohmann::ordered_json cpu_per_job = nullptr, load_cpu = nullptr, idle_cpu = nullptr,
                         rss_per_agent = nullptr;
  if (r.load_start && r.load_end && r.finished > 0) {
    double cpu = r.load_end->cpu_seconds - r.load_start->cpu_seconds;
    cpu_per_job = bench::round_to(cpu * 1000 / static_cast<double>(r.finished), 4);
    if (r.load_seconds > 0) load_cpu = bench::round_to(cpu * 100 / r.load_seconds, 1);
  }
  if (r.idle_start && r.idle_end && r.idle_seconds > 0) {
    idle_cpu = bench::round_to(
        (r.idle_end->cpu_seconds - r.idle_start->cpu_seconds) * 100 / r.idle_seconds, 2);
  }
  if (r.leader_before && r.idle_end && r.registered > 0) {
    double grown = static_cast<double>(r.idle_end->rss_bytes) -
                   static_cast<double>(r.leader_before->rss_bytes);
    rss_per_agent = bench::round_to(grown / 1024 / r.registered, 2);
  }
  return nlohmann::ordered_json{
      {"agents", r.agents},
      {"registered", r.registered},
      {"connected", r.connected},
      {"connections", r.connections},
      {"heartbeat_ms", r.heartbeat_ms},
      {"idle_heartbeat_ms", r.idle_heartbeat_ms},
      {"register_s", bench::round_to(r.register_seconds, 3)},
      {"connect_s", bench::round_to(r.connect_seconds, 3)},
      {"jobs", r.jobs},
      {"submitted", r.submitted},
      {"submit_errors", r.submit_errors},
      {"placed", r.placed},
      {"finished", r.finished},
      {"seconds", bench::round_to(r.finished_seconds, 3)},
      {"placed_per_sec", rate(r.placed, r.placed_seconds)},
      {"finished_per_sec", rate(r.finished, r.finished_seconds)},
      {"p50_ms", bench::percentile_ms(r.latencies_us, 0.50)},
      {"p99_ms", bench::percentile_ms(r.latencies_us, 0.99)},
      {"leader_address", r.leader_address},
      {"leader_pid", r.leader_pid ? nlohmann::ordered_json(r.leader_pid) : nullptr},
      {"leader_pid_from", r.leader_pid_from},
      {"leader_changed", r.leader_changed},
      {"leader_cpu_ms_per_job", cpu_per_job},
      {"leader_cpu_percent_under_load", load_cpu},
      {"idle_s", bench::round_to(r.idle_seconds, 3)},
      {"leader_idle_cpu_percent", idle_cpu},
      {"leader_rss_before_mib", mib(r.leader_before)},
      {"leader_rss_idle_mib", mib(r.idle_end)},
      {"leader_rss_per_agent_kib", rss_per_agent},
      {"bench_cpu_s", bench::round_to(r.bench_cpu_seconds, 3)},
      {"reports", r.reports},
      {"acks", r.acks},
      {"updates", r.updates},
      {"stream_restarts", r.stream_restarts},
      {"first_stream_end", r.first_stream_end.empty() ? nlohmann::ordered_json(nullptr)
                                                      : nlohmann::ordered_json(r.first_stream_end)},
      {"loadavg", r.loadavg >= 0 ? nlohmann::ordered_json(r.loadavg) : nullptr},
  };
}

int run_bench_agents(const BenchAgentsOptions& options, const std::vector<std::string>& addresses,
                     std::ostream& out, std::ostream& err) {
  raise_open_files_limit();
  AgentsBenchReport report;
  report.agents = options.agents;
  report.jobs = options.count;
  report.connections =
      options.connections > 0 ? std::min(options.connections, options.agents) : options.agents;
  report.heartbeat_ms = options.heartbeat.count();
  report.idle_heartbeat_ms = options.idle_heartbeat.count();
  report.loadavg = loadavg_now();

  report.leader_address = ask_leader(addresses, Clock::now() + std::chrono::seconds(10));
  if (report.leader_address.empty()) {
    err << "nomad-lite: bench agents: no server at " << addresses.front()
        << " (or the others given) knows a leader; is the cluster up?\n";
    return 1;
  }
  if (options.leader_pid > 0) {
    report.leader_pid = options.leader_pid;
    report.leader_pid_from = "flag";
  } else if (is_loopback_host(report.leader_address)) {
    report.leader_pid = find_listening_pid(address_port(report.leader_address));
  }
  if (report.leader_pid_from.empty()) report.leader_pid_from = report.leader_pid ? "port" : "none";
  if (report.leader_pid == 0) {
    err << "nomad-lite: bench agents: the leader (" << report.leader_address
        << ") is not a process found on this machine; its CPU and memory are not measured "
           "(give --leader-pid)\n";
  }
  report.leader_before = sample_process(report.leader_pid);

  JobTimes times(options.count);
  const std::string key_prefix = random_idempotency_key();
  FleetOptions fleet_options;
  fleet_options.agents = options.agents;
  fleet_options.slots = options.slots;
  fleet_options.connections = options.connections;
  fleet_options.heartbeat = options.heartbeat;
  fleet_options.idle_heartbeat = options.idle_heartbeat;
  fleet_options.capacity.set_cpu(4);
  fleet_options.capacity.set_memory_bytes(8 * kGiB);
  fleet_options.capacity.set_name("bench-agent");
  (*fleet_options.capacity.mutable_labels())["bench"] = "agents";
  FleetObserver observer;
  observer.placed = [&](const nomad_lite::Job& job) {
    times.placed(bench_job_sequence(job, key_prefix));
  };
  observer.finished = [&](const nomad_lite::Job& job) {
    times.finished(bench_job_sequence(job, key_prefix));
  };
  AgentFleet fleet(fleet_options, addresses, observer);

  auto started = Clock::now();
  std::string register_error;
  report.registered = fleet.register_all(started + kRegisterBudget, &register_error);
  report.register_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!register_error.empty()) {
    err << "nomad-lite: bench agents: " << options.agents - report.registered
        << " agents could not register; the first: " << register_error << "\n";
  }
  if (report.registered == 0) return 1;

  started = Clock::now();
  fleet.start();
  wait_until([&] { return fleet.connected() >= report.registered; }, started + kConnectBudget);
  report.connect_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  report.connected = fleet.connected();
  if (report.connected < report.registered) {
    err << "nomad-lite: bench agents: only " << report.connected << " of " << report.registered
        << " agents have both streams up after " << kConnectBudget.count() << " s\n";
  }

  // The idle window: the agents only heartbeat.
  std::this_thread::sleep_for(kSettle);
  report.idle_start = sample_process(report.leader_pid);
  auto idle_started = Clock::now();
  std::this_thread::sleep_for(options.idle);
  report.idle_end = sample_process(report.leader_pid);
  report.idle_seconds = std::chrono::duration<double>(Clock::now() - idle_started).count();

  // The load: every job submitted, then until each finished (or none did for a while).
  AgentJobSubmit submit(options.command, key_prefix, times);
  BenchOptions load;
  load.clients = options.concurrency;
  load.requests = options.count;
  load.duration = options.duration;
  report.load_start = sample_process(report.leader_pid);
  double bench_cpu_before = own_cpu_seconds();
  auto load_started = Clock::now();
  times.start();
  std::string submit_error;
  BenchReport submitted = run_load(submit, load, {report.leader_address}, &submit_error);
  report.submitted = submitted.ops;
  report.submit_errors = submitted.errors;
  uint64_t last_finished = times.finished_count();
  auto last_progress = Clock::now();
  while (times.finished_count() < report.submitted && Clock::now() - last_progress < kDrainQuiet) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (times.finished_count() != last_finished) {
      last_finished = times.finished_count();
      last_progress = Clock::now();
    }
  }
  report.load_end = sample_process(report.leader_pid);
  report.load_seconds = std::chrono::duration<double>(Clock::now() - load_started).count();
  report.bench_cpu_seconds = own_cpu_seconds() - bench_cpu_before;
  times.summarize(&report);

  FleetCounters counters = fleet.counters();
  report.reports = counters.reports;
  report.acks = counters.acks;
  report.updates = counters.updates;
  report.stream_restarts = counters.stream_restarts;
  report.first_stream_end = counters.first_stream_end;
  fleet.stop();
  report.leader_changed =
      ask_leader(addresses, Clock::now() + std::chrono::seconds(2)) != report.leader_address;

  uint64_t finished = report.finished, submitted_ok = report.submitted;
  out << bench_agents_json(std::move(report)).dump() << std::endl;
  if (submitted.errors > 0) {
    err << "nomad-lite: bench agents: " << submitted.errors
        << " submissions failed; the first: " << submit_error << "\n";
  }
  if (finished < submitted_ok) {
    err << "nomad-lite: bench agents: " << submitted_ok - finished << " of " << submitted_ok
        << " jobs were not seen finished on the simulated agents (a server that runs jobs "
           "itself takes some: start the servers with --worker-slots 0)\n";
  }
  return finished > 0 ? 0 : 1;
}

}  // namespace nomad::cli
