#pragma once

// `nomad-lite bench agents`: the control plane alone, at scale. In this one process --agents
// simulated agents (sim_agents.h) register with the cluster, open their two streams to the
// leader and heartbeat; the leader's CPU and memory are measured while they idle; then
// --count jobs are submitted (--concurrency calls in flight), which the leader places on the
// agents, and each agent answers each attempt placed on it with its finish at once. Prints
// one JSON line (bench_agents_json): jobs placed and finished per second, submit-to-finished
// latency, the leader's CPU per job and, with the agents idle, its CPU share and memory per
// agent. The leader's figures come from /proc/<pid>: --leader-pid, or the process listening
// on the leader's port when the leader's address is a loopback one; otherwise they are null.
// The servers should run no jobs themselves (--worker-slots 0): a job one of them runs is
// never seen by the agents, and counts as not finished.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/process_stats.h"

namespace nomad::cli {

struct AgentsBenchReport {
  int agents = 0;
  int registered = 0;
  int connected = 0;              // both streams up when the idle measurement began
  int connections = 0;            // the agents' connections to the leader
  int64_t heartbeat_ms = 0;       // each agent's report interval
  int64_t idle_heartbeat_ms = 0;  // ... while it owes nothing
  double register_seconds = 0, connect_seconds = 0;
  uint64_t jobs = 0;       // asked for (--count)
  uint64_t submitted = 0;  // acknowledged submissions
  uint64_t submit_errors = 0;
  uint64_t placed = 0;                              // jobs of the run seen placed on an agent
  uint64_t finished = 0;                            // jobs of the run seen final by their agent
  double placed_seconds = 0, finished_seconds = 0;  // from the first submission to the last
  std::vector<uint32_t> latencies_us;               // submit to finished, one per finished job
  std::string leader_address;
  int leader_pid = 0;                          // 0: not found
  std::string leader_pid_from;                 // "flag", "port" or "none"
  bool leader_changed = false;                 // another node led at the end
  std::optional<ProcessSample> leader_before;  // before any agent registered
  std::optional<ProcessSample> idle_start, idle_end;
  double idle_seconds = 0;
  std::optional<ProcessSample> load_start, load_end;
  double load_seconds = 0;
  double bench_cpu_seconds = 0;  // this process, during the load
  uint64_t reports = 0, acks = 0, updates = 0, stream_restarts = 0;
  std::string first_stream_end;  // why the first stream that ended early ended; "" none
  double loadavg = -1;           // the machine's 1-minute load average at the start; -1 unknown
};

// {"agents", "registered", "connected", "connections", "heartbeat_ms", "idle_heartbeat_ms",
// "register_s", "connect_s",
// "jobs", "submitted",
//  "submit_errors", "placed", "finished", "seconds", "placed_per_sec", "finished_per_sec",
//  "p50_ms", "p99_ms", "leader_address", "leader_pid", "leader_pid_from", "leader_changed",
//  "leader_cpu_ms_per_job", "leader_cpu_percent_under_load", "idle_s",
//  "leader_idle_cpu_percent", "leader_rss_before_mib", "leader_rss_idle_mib",
//  "leader_rss_per_agent_kib", "bench_cpu_s", "reports", "acks", "updates",
//  "stream_restarts", "first_stream_end", "loadavg"}; the leader's figures null when its pid is
//  unknown.
nlohmann::ordered_json bench_agents_json(AgentsBenchReport report);

// Runs the benchmark against `addresses` and prints bench_agents_json on `out`; problems on
// `err`. Returns 0, or 1 when no agent registered or no job finished.
int run_bench_agents(const BenchAgentsOptions& options, const std::vector<std::string>& addresses,
                     std::ostream& out, std::ostream& err);

}  // namespace nomad::cli
