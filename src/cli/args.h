#pragma once

// The command line of `nomad-lite`, parsed into what to run. Parsing starts nothing and reads
// only the files the command line names (--config, the client's PEM files), so every form (and
// every mistake) can be tested on its own.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/duration.h"
#include "node/server_config.h"
#include "proto/nomad_lite.pb.h"
#include "server/agent_config.h"
#include "tls/dev_pki.h"
#include "transport/security.h"

namespace nomad::cli {

enum class Command {
  kServer,
  kJobSubmit,
  kJobStatus,
  kJobList,
  kJobCancel,
  kJobWait,
  kJobLogs,
  kClusterStatus,
  kNodeDrain,
  kNodeEligibility,
  kClusterMembers,
  kClusterAddServer,
  kClusterRemoveServer,
  kBenchSubmit,
  kBenchJobs,
  kBenchSpawn,
  kBenchAgents,
  kTlsInit,
  kVersion,
  kClusterTransferLeader,
  kSnapshotSave,
  kSnapshotInspect,
  kAgent,
  kJobPause,  // a periodic job: no ticks until resumed
  kJobResume,
  kJobRunNow,  // a periodic job: one extra child now
};

enum class OutputFormat { kTable, kJson };

struct ClientOptions {
  std::vector<std::string> addresses;  // "host:port", tried in this order
  OutputFormat output = OutputFormat::kTable;
  transport::OutgoingSecurity security;  // --ca-cert, --cert, --key (read in), --token
};

struct SubmitOptions {
  std::string command;  // what /bin/sh -c runs
  Millis timeout{0};    // 0: none
  uint32_t retries = 0;
  uint32_t lost_retries = 3;  // reruns after node loss, apart from retries
  nomad_lite::OnDisconnect on_disconnect = nomad_lite::ON_DISCONNECT_STOP;
  std::map<std::string, std::string> env;  // from --env K=V
  std::string idempotency_key;             // empty: the CLI picks a random one per submission
  std::vector<std::string> after;          // --after: jobs that must complete first
  int32_t priority = 0;                    // higher runs first
  bool wait = false;  // then wait for the job to end and exit with its code (as job wait)
  nomad_lite::Resources resources;       // --cpu, --memory (0: none asked)
  std::vector<std::string> constraints;  // --constraint KEY==VALUE / KEY!=VALUE
  // A periodic job (README "Periodic jobs"): --cron or --every makes one.
  std::string cron;
  Millis every{0};
  std::string tz;
  nomad_lite::OverlapPolicy overlap = nomad_lite::OVERLAP_ALLOW;
  nomad_lite::CatchUpPolicy catch_up = nomad_lite::CATCH_UP_LAST;
  std::optional<uint32_t> keep_runs;
  bool periodic() const { return !cron.empty() || every.count() > 0; }
};

struct WaitOptions {
  Millis timeout{0};  // give up after this long (exit code 3); 0: never
};

struct LogsOptions {
  bool use_stderr = false;  // --stderr: the job's stderr instead of its stdout
  bool follow = false;      // -f: keep streaming until the attempt ends
  uint32_t attempt = 0;     // 0: the current attempt
};

struct ListOptions {
  nomad_lite::JobStatus status = nomad_lite::JOB_STATUS_UNSPECIFIED;  // UNSPECIFIED: all
  uint32_t limit = 0;                                                 // 0: every match
  bool periodic = false;  // --periodic: the periodic jobs instead
  bool all = false;       // --all (with --periodic): cancelled periodic jobs too
};

// Every read (job status, list, wait, logs).
struct ReadOptions {
  uint64_t min_index = 0;   // wait until the node asked applied this index (read-your-writes)
  bool consistent = false;  // linearizable: the node applies the leader's ReadIndex first
};

// `node drain ID` and `node eligibility ID on|off` (README "Draining a node").
struct NodeOptions {
  uint64_t node_id = 0;
  std::optional<Millis> deadline;  // --deadline; none: the server's default (1h)
  bool no_deadline = false;        // --no-deadline: wait for the jobs however long they run
  bool cancel = false;             // --cancel: end the drain, the node is eligible again
  bool detach = false;             // --detach: return once the drain began
  bool eligible = true;            // eligibility on|off
};

// cluster add-server ID ADDR, cluster remove-server ID.
struct MemberOptions {
  uint64_t id = 0;
  std::string address;  // add-server only
};

struct BenchOptions {
  int clients = 16;  // SubmitJob calls kept in flight
  uint64_t requests = 10000;
  size_t payload = 100;               // bytes of each command
  Millis duration{60'000};            // stop issuing new calls after this long
  int channels = 0;                   // connections per server; 0: one per 64 clients, at most 4
  std::string target = "nomad-lite";  // nomad-lite (SubmitJob) or etcd (KV.Put), bench_etcd.h
};

struct BenchJobsOptions {
  int clients = 16;  // jobs kept in flight, each submitted and then waited for
  uint64_t count = 1000;
  std::string command = "true";
  Millis duration{60'000};  // stop submitting after this long
  Millis drain{30'000};     // then wait this much longer for jobs in flight (no flag)
  int channels = 0;         // connections per server; 0: one per 64 clients, at most 4
};

// `bench spawn`: what this machine can spawn at all, the yardstick for bench jobs.
struct BenchSpawnOptions {
  int parallel = 2;  // spawning loops side by side, each one process at a time
  uint64_t count = 4000;
  std::string command = "true";
};

// `bench agents`: simulated agents in this process against a cluster (bench_agents.h).
struct BenchAgentsOptions {
  int agents = 1000;
  uint64_t count = 10000;  // jobs submitted
  int concurrency = 256;   // SubmitJob calls in flight
  uint32_t slots = 8;      // each simulated agent's
  std::string command = "echo ok";
  Millis idle{10'000};           // the leader's idle CPU is measured over this long
  Millis duration{120'000};      // stop submitting after this long
  int leader_pid = 0;            // 0: the process listening on the leader's (loopback) port
  int connections = 0;           // 0: one per agent, as real agents have
  Millis heartbeat{500};         // each agent's report interval, as a real agent's
  Millis idle_heartbeat{30000};  // ... while it owes nothing, as a real agent's
};

struct Invocation {
  Command command = Command::kServer;
  node::ServerConfig server;  // kServer
  bool check_config = false;  // kServer: check the configuration and exit
  bool version_json = false;  // kVersion: one JSON object rather than one line
  ClientOptions client;       // every other command
  SubmitOptions submit;       // kJobSubmit
  std::string job_id;         // kJobStatus, kJobCancel, kJobWait, kJobLogs, kJobPause/Resume/RunNow
  ListOptions list;           // kJobList
  WaitOptions wait;           // kJobWait
  NodeOptions node;           // kNodeDrain, kNodeEligibility
  LogsOptions logs;           // kJobLogs
  MemberOptions member;       // kClusterAddServer, kClusterRemoveServer
  BenchOptions bench;         // kBenchSubmit
  BenchJobsOptions bench_jobs;    // kBenchJobs
  BenchSpawnOptions bench_spawn;  // kBenchSpawn
  tls::DevPkiOptions tls_init;    // kTlsInit
  ReadOptions read;               // kJobStatus, kJobList, kJobWait, kJobLogs
  uint64_t transfer_to = 0;       // kClusterTransferLeader: 0 the most up-to-date follower
  std::string snapshot_file;      // kSnapshotSave, kSnapshotInspect
  server::AgentConfig agent;      // kAgent

  BenchAgentsOptions bench_agents;  // kBenchAgents
};

struct ParsedArgs {
  std::optional<Invocation> invocation;  // set: run it
  int exit_code = 0;                     // otherwise: exit with this code
  std::string out;                       // ... after printing this on stdout (help),
  std::string error;                     // ... or this single line on stderr (exit code 2)
};

// `args` is the command line without the program name. NOMAD_LITE_ADDR is read from the
// environment when --addr is not given.
ParsedArgs parse_args(const std::vector<std::string>& args);

}  // namespace nomad::cli
