#include "cli/args.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "api/json.h"
#include "cli/address.h"
#include "cli/agent_flags.h"
#include "cli/config_file.h"
#include "cli/member_args.h"
#include "cli/server_flags.h"
#include "common/byte_size.h"
#include "common/shell_quote.h"
#include "jobs/cron.h"
#include "jobs/periodic.h"
#include "jobs/resources.h"
#include "tls/identity.h"

namespace nomad::cli {
namespace {

// Flags that need checking beyond their type are bound to plain strings and converted after
// CLI11 has parsed, so that each mistake gets a message in our own words (the server's flags:
// server_flags.h).
struct SubmitFlags {
  CLI::App* app = nullptr;
  std::string cmd;
  std::string timeout;
  uint32_t retries = 0;
  uint32_t lost_retries = 3;
  std::string on_disconnect = "stop";
  std::vector<std::string> env;
  std::string idempotency_key;
  int32_t priority = 0;
  bool wait = false;
  std::string cpu;
  std::string memory;
  std::vector<std::string> constraints;
  std::string cron, every, tz, overlap = "allow", catch_up = "last";
  uint32_t keep_runs = 0;  // 0: not given
  std::string after;       // ID[,ID...]
};

struct JobIdFlags {
  CLI::App* app = nullptr;
  std::string positional;
  std::string flag;
};

struct WaitFlags {
  JobIdFlags id;
  std::string timeout;
};

struct LogsFlags {
  JobIdFlags id;
  bool use_stderr = false;
  bool follow = false;
  uint32_t attempt = 0;
  CLI::Option* attempt_option = nullptr;
};

struct ListFlags {
  CLI::App* app = nullptr;
  std::string status;
  uint32_t limit = 0;
  bool periodic = false;
  bool all = false;
};

struct BenchFlags {
  CLI::App* app = nullptr;
  BenchOptions options;
  std::string duration = "60s";
};

struct BenchJobsFlags {
  CLI::App* app = nullptr;
  BenchJobsOptions options;
  std::string duration = "60s";
};

struct BenchSpawnFlags {
  CLI::App* app = nullptr;
  BenchSpawnOptions options;
};

struct BenchAgentsFlags {
  CLI::App* app = nullptr;
  BenchAgentsOptions options;
  std::string servers, idle = "10s", duration = "120s", heartbeat = "500ms";
  std::string idle_heartbeat = "30s";
};

struct TlsInitFlags {
  CLI::App* app = nullptr;
  tls::DevPkiOptions options;
  std::string hosts;
};

struct NodeFlags {
  CLI::App* drain = nullptr;
  CLI::App* eligibility = nullptr;
  std::string drain_id, eligibility_id, deadline, toggle;
  bool no_deadline = false, cancel = false, detach = false;
};

struct Flags {
  std::string addr = kDefaultAddress;
  std::string output = "table";
  std::string ca_cert, cert, key, token;
  ServerFlags server;
  AgentFlags agent;
  SubmitFlags job_submit, submit_alias;
  JobIdFlags job_status, job_cancel, status_alias;
  JobIdFlags job_pause, job_resume, job_run_now;
  WaitFlags job_wait;
  LogsFlags job_logs;
  ListFlags job_list, list_alias;
  CLI::App* cluster = nullptr;
  NodeFlags node;
  MemberFlags members;
  BenchFlags bench;
  BenchJobsFlags bench_jobs;
  BenchSpawnFlags bench_spawn;
  BenchAgentsFlags bench_agents;
  TlsInitFlags tls_init;
  CLI::App* version = nullptr;
  bool version_json = false;
  ReadOptions read;
  CLI::App* transfer_leader = nullptr;
  uint64_t transfer_to = 0;
  CLI::App* snapshot_save = nullptr;  // operator snapshot save FILE
  CLI::App* snapshot_inspect = nullptr;
  std::string snapshot_file;
};

void add_read_flags(CLI::App* app, ReadOptions* read) {
  app->add_flag("--consistent", read->consistent,
                "Linearizable: the node first learns the leader's commit index (confirmed by a "
                "heartbeat round) and applies it (default: this node's applied state)");
  app->add_option("--min-index", read->min_index,
                  "Wait until the node applied this log index (a write's \"index\")");
}

constexpr const char* kClientFooter =
    "Client options (before or after the command): --addr HOST:PORT[,HOST:PORT...] (env "
    "NOMAD_LITE_ADDR), -o table|json, --token T (env NOMAD_LITE_TOKEN), --ca-cert FILE (env "
    "NOMAD_LITE_CACERT), --cert FILE and --key FILE (env NOMAD_LITE_CLIENT_CERT, "
    "NOMAD_LITE_CLIENT_KEY)";

void add_submit_flags(CLI::App* app, SubmitFlags* f) {
  f->app = app;
  app->add_option("-c,--cmd", f->cmd, "The command, as one string (or the words after --)");
  app->add_option("--timeout", f->timeout,
                  "Kill the job after this long, e.g. 30s (default: none)");
  app->add_option("--retries", f->retries, "Run a failed job again up to N times");
  app->add_option("--lost-retries", f->lost_retries,
                  "Run the job again up to N times when its node is lost or cut off (apart from "
                  "--retries)")
      ->capture_default_str();
  app->add_option("--on-disconnect", f->on_disconnect,
                  "stop: a node cut off from the leader stops the job before the leader may "
                  "start it elsewhere; keep-running: it keeps running (two attempts may overlap)")
      ->capture_default_str();
  app->add_option("--env", f->env, "Environment variable K=V for the job (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app->add_option("--idempotency-key", f->idempotency_key,
                  "Submissions with the same key create one job (default: random)");
  app->add_option("--priority", f->priority, "Higher runs first (default 0; may be negative)");
  app->add_flag("--wait", f->wait,
                "Wait for the job to end and exit with its exit code (as job wait)");
  app->add_option("--cpu", f->cpu, "Cores the job needs, e.g. 0.5 (default: none asked)");
  app->add_option("--memory", f->memory, "Memory the job needs, e.g. 256MiB (default: none asked)");
  app->add_option("--constraint", f->constraints,
                  "Run only on nodes whose labels match: KEY==VALUE or KEY!=VALUE (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app->add_option("--cron", f->cron,
                  "A periodic job: run at the times of this cron expression ('*/5 * * * *', "
                  "6 fields with seconds, @hourly, ...)");
  app->add_option("--every", f->every, "A periodic job: run every DURATION (at least 1s)");
  app->add_option("--tz", f->tz, "The IANA time zone of --cron (default UTC)");
  app->add_option("--overlap", f->overlap,
                  "A tick while the previous run still runs: allow, skip (record it skipped) or "
                  "cancel (cancel the previous run first)")
      ->capture_default_str();
  app->add_option("--catch-up", f->catch_up,
                  "Ticks missed while no leader ran: last (run the latest), none, or all")
      ->capture_default_str();
  app->add_option("--after", f->after,
                  "ID[,ID...]: wait until these jobs completed; fail (dependency_failed) "
                  "without running if one fails or is cancelled");
  app->add_option("--keep-runs", f->keep_runs,
                  "Keep the last N runs of a periodic job (default 100)");
  app->footer(std::string(kClientFooter) +
              "\nExample: nomad-lite job submit --timeout 30s -- sh -c 'echo a; echo b'");
}

void add_job_id_flags(CLI::App* app, JobIdFlags* f) {
  f->app = app;
  app->add_option("ID", f->positional, "The job's id (or a unique prefix of it)");
  app->add_option("-j,--job-id", f->flag, "The job's id (the seed's spelling)");
}

void add_wait_flags(CLI::App* app, WaitFlags* f) {
  add_job_id_flags(app, &f->id);
  app->add_option("--timeout", f->timeout,
                  "Give up after this long, e.g. 10m, with exit code 3 (default: never)");
  app->footer(std::string(kClientFooter) +
              "\nExit code: the job's own; 124 timed out, 125 lost or could not start, 130 "
              "cancelled, 128+N killed by signal N, 3 --timeout passed, 1 error");
}

void add_logs_flags(CLI::App* app, LogsFlags* f) {
  add_job_id_flags(app, &f->id);
  app->add_flag("--stderr", f->use_stderr, "The job's stderr instead of its stdout");
  app->add_flag("-f,--follow", f->follow, "Keep printing output until the attempt ends");
  f->attempt_option =
      app->add_option("--attempt", f->attempt, "This attempt (1, 2, ...; default: the latest)");
}

void add_list_flags(CLI::App* app, ListFlags* f) {
  f->app = app;
  app->add_option("--status", f->status,
                  "Only jobs with this status: pending, running, completed, failed, cancelled");
  app->add_option("--limit", f->limit, "Print at most N jobs (default: every match)");
  app->add_flag("--periodic", f->periodic, "List the periodic jobs (--cron, --every) instead");
  app->add_flag("--all", f->all,
                "With --periodic: cancelled periodic jobs too (until retention removes them)");
}

void add_node_flags(CLI::App* node, NodeFlags* f) {
  node->require_subcommand(1);
  f->drain = node->add_subcommand(
      "drain", "Stop placing jobs on a node, let its jobs finish, re-run the rest elsewhere");
  f->drain->add_option("ID", f->drain_id, "The node's id (nomad-lite cluster status)");
  f->drain->add_option("--deadline", f->deadline,
                       "Jobs still running after this long are re-run on other nodes, e.g. 5m; "
                       "0s: at once (default: 1h)");
  f->drain->add_flag("--no-deadline", f->no_deadline,
                     "Wait for the node's jobs however long they run");
  f->drain->add_flag("--cancel", f->cancel, "End a drain: the node takes jobs again");
  f->drain->add_flag("--detach", f->detach,
                     "Return once the drain began, rather than wait for the node to be empty");
  f->drain->footer(std::string(kClientFooter) +
                   "\nNeeds an operator token when the cluster has a --token-file.");
  f->eligibility =
      node->add_subcommand("eligibility", "Whether the leader places new jobs on a node");
  f->eligibility->add_option("ID", f->eligibility_id, "The node's id (nomad-lite cluster status)");
  f->eligibility->add_option("STATE", f->toggle, "on: place jobs there (ends a drain); off: not");
  f->eligibility->footer(std::string(kClientFooter) +
                         "\nNeeds an operator token when the cluster has a --token-file.");
}

Status finish_node_id(const std::string& text, const std::string& command, uint64_t* out) {
  if (text.empty()) return Status::error("which node? give its id: nomad-lite " + command + " ID");
  uint64_t v = 0;
  for (char c : text) {
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (c < '0' || c > '9' || v > (UINT64_MAX - digit) / 10) {
      return Status::error(command + ": '" + text +
                           "' is not a node id (a number, as nomad-lite cluster status lists)");
    }
    v = v * 10 + digit;
  }
  if (v == 0) return Status::error(command + ": node ids start at 1");
  *out = v;
  return Status::ok();
}

Status finish_node(const NodeFlags& f, Invocation* inv) {
  NodeOptions& o = inv->node;
  if (f.drain->parsed()) {
    inv->command = Command::kNodeDrain;
    if (Status s = finish_node_id(f.drain_id, "node drain", &o.node_id); !s) return s;
    o.no_deadline = f.no_deadline;
    o.cancel = f.cancel;
    o.detach = f.detach;
    if (f.cancel && (f.no_deadline || !f.deadline.empty())) {
      return Status::error("node drain --cancel ends a drain: it takes no --deadline");
    }
    if (f.no_deadline && !f.deadline.empty()) {
      return Status::error("node drain: give --deadline or --no-deadline, not both");
    }
    if (!f.deadline.empty()) {
      std::string why;
      auto deadline = parse_duration(f.deadline, &why);
      if (!deadline) return Status::error("--deadline: " + why);
      if (deadline->count() < 0) return Status::error("--deadline: must be 0s or more");
      o.deadline = *deadline;
    }
    return Status::ok();
  }
  inv->command = Command::kNodeEligibility;
  if (Status s = finish_node_id(f.eligibility_id, "node eligibility", &o.node_id); !s) return s;
  if (f.toggle == "on") {
    o.eligible = true;
  } else if (f.toggle == "off") {
    o.eligible = false;
  } else {
    return Status::error("node eligibility: say on or off (nomad-lite node eligibility " +
                         std::to_string(o.node_id) + " off)");
  }
  return Status::ok();
}

void add_bench_flags(CLI::App* app, BenchFlags* f) {
  f->app = app;
  auto& o = f->options;
  app->add_option("--clients", o.clients, "SubmitJob calls kept in flight")->capture_default_str();
  app->add_option("--requests", o.requests, "Stop after this many submissions")
      ->capture_default_str();
  app->add_option("--payload", o.payload, "Bytes of each job's command")->capture_default_str();
  app->add_option("--duration", f->duration, "Stop after this long at most")->capture_default_str();
  app->add_option("--channels", o.channels,
                  "Connections per server (default: one per 64 clients, at most 4)");
  app->add_option("--target", o.target,
                  "nomad-lite; etcd: the same load as etcd KV.Put calls; status: "
                  "GetClusterStatus calls, the RPC's own cost without a Raft round")
      ->check(CLI::IsMember({"nomad-lite", "etcd", "status"}))
      ->capture_default_str();
}

void add_bench_jobs_flags(CLI::App* app, BenchJobsFlags* f) {
  f->app = app;
  auto& o = f->options;
  app->add_option("--clients", o.clients, "Jobs kept in flight (each: submit, then wait)")
      ->capture_default_str();
  app->add_option("--count", o.count, "Stop after this many jobs")->capture_default_str();
  app->add_option("--command", o.command, "Each job's command")->capture_default_str();
  app->add_option("--duration", f->duration,
                  "Stop submitting after this long (jobs in flight get 30s more to end)")
      ->capture_default_str();
  app->add_option("--channels", o.channels,
                  "Connections per server (default: one per 64 clients, at most 4)");
}

void add_bench_spawn_flags(CLI::App* app, BenchSpawnFlags* f) {
  f->app = app;
  auto& o = f->options;
  app->add_option("--parallel", o.parallel, "Spawning loops side by side")->capture_default_str();
  app->add_option("--count", o.count, "Job processes to spawn in all")->capture_default_str();
  app->add_option("--command", o.command, "What each runs with /bin/sh -c")->capture_default_str();
  app->footer(
      "Runs on this machine only, with no server: the yardstick for bench jobs, which spawns "
      "the same /bin/sh -c COMMAND for every job.");
}

void add_bench_agents_flags(CLI::App* app, BenchAgentsFlags* f) {
  f->app = app;
  auto& o = f->options;
  app->add_option("--servers", f->servers, "The cluster's servers, comma separated (or --addr)");
  app->add_option("--agents", o.agents, "Simulated agents in this process")->capture_default_str();
  app->add_option("--count", o.count, "Jobs to submit")->capture_default_str();
  app->add_option("--concurrency", o.concurrency, "SubmitJob calls in flight")
      ->capture_default_str();
  app->add_option("--slots", o.slots, "Each agent's slots")->capture_default_str();
  app->add_option("--command", o.command, "Each job's command (never run)")->capture_default_str();
  app->add_option("--idle", f->idle, "How long the leader's CPU is measured with the agents idle")
      ->capture_default_str();
  app->add_option("--duration", f->duration, "Stop submitting after this long")
      ->capture_default_str();
  app->add_option("--leader-pid", o.leader_pid,
                  "The leader's pid (default: the process listening on the leader's port, when "
                  "its address is a loopback one)");
  app->add_option("--connections", o.connections,
                  "Connections the agents share (default: one per agent, as real agents)");
  app->add_option("--heartbeat", f->heartbeat,
                  "Each agent's report interval (real agents: 500ms); to see what reports cost")
      ->capture_default_str();
  app->add_option("--idle-heartbeat", f->idle_heartbeat,
                  "Each agent's report interval while it owes the leader nothing (real agents: "
                  "30s; the leader hears from an idle agent through its open stream)")
      ->capture_default_str();
  app->footer(
      "Start the servers with --worker-slots 0: jobs a server runs are not seen by the agents. "
      "Prints one JSON line (README \"bench agents\").");
}

void add_tls_init_flags(CLI::App* app, TlsInitFlags* f) {
  f->app = app;
  app->add_option("DIR", f->options.dir, "Directory to write into (made if missing)")->required();
  app->add_option("--nodes", f->options.nodes, "Node certificates to make: node-1.pem ...")
      ->capture_default_str();
  app->add_option("--hosts", f->hosts,
                  "More names and addresses the nodes are reached at, comma separated "
                  "(localhost, 127.0.0.1 and ::1 are always in)");
  app->add_option("--agents", f->options.agents,
                  "Agent certificates to make: agent-1.pem ... (nomad-lite agent --tls-cert)")
      ->capture_default_str();
  app->add_flag("--force", f->options.force, "Overwrite files that exist");
  app->add_option("--add-node", f->options.add_node,
                  "Only one more node certificate, node-ID.pem, signed by the CA already in DIR "
                  "(for a node that joins with server --join)");
  app->add_option("--out", f->options.out,
                  "With --add-node: the directory for the new files (default DIR)");
  app->fallthrough(false);
  app->footer("Example: nomad-lite tls init certs --nodes 3 --hosts node1.example,10.0.0.5");
}

void build_app(CLI::App& app, Flags* f) {
  app.require_subcommand(1);
  app.fallthrough();  // `job list -o json` as well as `-o json job list`
  app.add_option("--addr", f->addr,
                 "Server(s) to talk to, comma separated; writes find the leader by themselves")
      ->envname("NOMAD_LITE_ADDR")
      ->capture_default_str();
  app.add_option("-o,--output", f->output, "Output format: table or json")->capture_default_str();
  app.add_option("--token", f->token,
                 "Bearer token for a server with --token-file (prefer the environment variable: "
                 "a flag shows in ps)")
      ->envname("NOMAD_LITE_TOKEN");
  app.add_option("--ca-cert", f->ca_cert, "The cluster's CA (PEM): talk TLS and check the server")
      ->envname("NOMAD_LITE_CACERT");
  app.add_option("--cert", f->cert, "Client certificate (PEM) for a server with --tls-ca")
      ->envname("NOMAD_LITE_CLIENT_CERT");
  app.add_option("--key", f->key, "The private key of --cert (PEM)")
      ->envname("NOMAD_LITE_CLIENT_KEY");

  // Subcommands copy the footer they are created with: the client commands show this one.
  app.footer(kClientFooter);
  add_server_flags(app.add_subcommand("server", "Run a node of the cluster"), &f->server);
  add_agent_flags(app.add_subcommand("agent", "Run a worker-only agent: runs jobs, no Raft state"),
                  &f->agent);

  CLI::App* job = app.add_subcommand("job", "Submit, inspect and cancel jobs");
  job->require_subcommand(1);
  add_submit_flags(job->add_subcommand("submit", "Submit a job"), &f->job_submit);
  add_job_id_flags(job->add_subcommand("status", "Show one job"), &f->job_status);
  add_list_flags(job->add_subcommand("list", "List jobs"), &f->job_list);
  add_job_id_flags(job->add_subcommand("cancel", "Cancel a job"), &f->job_cancel);
  add_wait_flags(job->add_subcommand("wait", "Wait for a job to end; exit with its exit code"),
                 &f->job_wait);
  add_logs_flags(job->add_subcommand("logs", "Print a job's output"), &f->job_logs);
  add_job_id_flags(job->add_subcommand("pause", "Stop a periodic job's ticks until resumed"),
                   &f->job_pause);
  add_job_id_flags(job->add_subcommand("resume", "Resume a paused periodic job"), &f->job_resume);
  add_job_id_flags(job->add_subcommand("run-now", "Run a periodic job once now, off schedule"),
                   &f->job_run_now);

  f->cluster = app.add_subcommand("cluster", "Show the cluster's nodes and leader");
  f->cluster->require_subcommand(0, 1);
  f->cluster->add_subcommand("status", "Show the cluster's nodes and leader");
  add_node_flags(app.add_subcommand("node", "Drain a node, or set whether it takes jobs"),
                 &f->node);
  add_member_flags(f->cluster, &f->members);

  CLI::App* bench = app.add_subcommand("bench", "Measure the cluster");
  bench->require_subcommand(1);
  add_bench_flags(bench->add_subcommand("submit", "Committed submissions per second"), &f->bench);
  add_bench_jobs_flags(bench->add_subcommand("jobs", "Jobs run end to end per second"),
                       &f->bench_jobs);
  add_bench_spawn_flags(
      bench->add_subcommand("spawn", "Job processes this machine spawns per second, no cluster"),
      &f->bench_spawn);
  add_bench_agents_flags(
      bench->add_subcommand("agents", "Simulated agents: the control plane's jobs/s and cost"),
      &f->bench_agents);

  CLI::App* tls = app.add_subcommand("tls", "Certificates for a cluster with TLS");
  tls->require_subcommand(1);
  add_tls_init_flags(tls->add_subcommand("init",
                                         "Make a development CA, node and client "
                                         "certificates and client tokens in DIR"),
                     &f->tls_init);

  f->version = app.add_subcommand("version", "Print the version, commit, build type and libraries");
  f->version->add_flag("--json", f->version_json, "One JSON object (as -o json)");
  f->version->fallthrough(false);

  CLI::App* op = app.add_subcommand("operator", "Cluster operations (operator role)");
  op->require_subcommand(1);
  CLI::App* snapshot =
      op->add_subcommand("snapshot", "Back the cluster's state up and check backups");
  snapshot->require_subcommand(1);
  f->snapshot_save =
      snapshot->add_subcommand("save", "Write the leader's state to FILE (atomically)");
  f->snapshot_save->add_option("FILE", f->snapshot_file, "The snapshot file to write")->required();
  f->snapshot_inspect = snapshot->add_subcommand(
      "inspect", "Show what a snapshot file holds and check it (no server needed)");
  f->snapshot_inspect->add_option("FILE", f->snapshot_file, "The snapshot file to read")
      ->required();

  const char* seed = "Forms of the original nomad-lite";
  add_submit_flags(app.add_subcommand("submit", "= job submit")->group(seed), &f->submit_alias);
  add_list_flags(app.add_subcommand("list", "= job list")->group(seed), &f->list_alias);
  add_job_id_flags(app.add_subcommand("status", "= job status")->group(seed), &f->status_alias);
  for (CLI::App* read : {f->job_status.app, f->status_alias.app, f->job_list.app, f->list_alias.app,
                         f->job_wait.id.app, f->job_logs.id.app}) {
    add_read_flags(read, &f->read);
  }
  f->transfer_leader = f->cluster->add_subcommand(
      "transfer-leader", "Hand leadership to another voter (operator role)");
  f->transfer_leader->add_option("--to", f->transfer_to,
                                 "The node to lead (default: the most up-to-date follower)");
  app.footer(std::string(kClientFooter) + "\n" + kServerFooter);
}

// --cpu, --memory and --constraint, checked here as the server would check them.
Status finish_needs(const SubmitFlags& f, SubmitOptions* out) {
  if (!f.cpu.empty()) {
    char* end = nullptr;
    double cores = std::strtod(f.cpu.c_str(), &end);
    if (end != f.cpu.c_str() + f.cpu.size() || !(cores > 0)) {
      return Status::error("--cpu '" + f.cpu + "': give the cores the job needs, e.g. --cpu 0.5");
    }
    out->resources.set_cpu(cores);
  }
  if (!f.memory.empty()) {
    std::string why;
    auto bytes = parse_byte_size(f.memory, &why);
    if (!bytes) return Status::error("--memory: " + why);
    if (*bytes == 0) return Status::error("--memory: give more than 0, e.g. --memory 256MiB");
    out->resources.set_memory_bytes(*bytes);
  }
  google::protobuf::RepeatedPtrField<std::string> constraints(f.constraints.begin(),
                                                              f.constraints.end());
  if (Status s =
          jobs::check_job_needs(out->resources, constraints, {"--cpu", "--memory", "--constraint"});
      !s) {
    return s;
  }
  out->constraints = f.constraints;
  return Status::ok();
}

// --cron / --every and the flags that go with them; checked here as the server would, so
// that a mistake exits 2 with the parser's message before anything is sent.
Status finish_periodic(const SubmitFlags& f, SubmitOptions* out) {
  const bool cron = !f.cron.empty(), every = !f.every.empty();
  if (!cron && !every) {
    for (const char* flag : {"--tz", "--keep-runs"}) {
      if (f.app->count(flag)) return Status::error(std::string(flag) + " needs --cron or --every");
    }
    if (f.app->count("--overlap") || f.app->count("--catch-up")) {
      return Status::error("--overlap and --catch-up need --cron or --every");
    }
    return Status::ok();
  }
  if (cron && every) return Status::error("give --cron or --every, not both");
  if (f.wait) return Status::error("--wait does not apply to a periodic job (--cron, --every)");
  if (!f.after.empty()) {
    return Status::error("--after does not apply to a periodic job (--cron, --every)");
  }
  std::string why;
  if (cron) {
    if (!jobs::CronSchedule::parse(f.cron, &why)) return Status::error("--cron: " + why);
    const date::time_zone* zone = nullptr;
    if (!jobs::find_time_zone(f.tz, &zone, &why)) return Status::error(why);
    out->cron = f.cron;
    out->tz = f.tz;
  } else {
    if (!f.tz.empty()) return Status::error("--tz applies to --cron only");
    auto d = parse_duration(f.every, &why);
    if (!d) return Status::error("--every: " + why);
    if (d->count() < jobs::kMinEveryMs) {
      return Status::error("--every: '" + f.every + "' is shorter than the shortest interval, 1s");
    }
    out->every = *d;
  }
  if (!jobs::parse_overlap(f.overlap, &out->overlap)) {
    return Status::error("--overlap: '" + f.overlap + "' is not allow, skip or cancel");
  }
  if (!jobs::parse_catch_up(f.catch_up, &out->catch_up)) {
    return Status::error("--catch-up: '" + f.catch_up + "' is not last, none or all");
  }
  if (f.app->count("--keep-runs")) {
    if (f.keep_runs == 0 || f.keep_runs > jobs::kMaxKeepRuns) {
      return Status::error("--keep-runs: give 1 to " + std::to_string(jobs::kMaxKeepRuns));
    }
    out->keep_runs = f.keep_runs;
  }
  return Status::ok();
}

Status finish_submit(const SubmitFlags& f, const std::vector<std::string>& words, bool saw_dashes,
                     SubmitOptions* out) {
  if (!f.cmd.empty() && saw_dashes) {
    return Status::error("give the command either with --cmd or after --, not both");
  }
  if (saw_dashes && words.empty()) return Status::error("no command after --");
  out->command = saw_dashes ? shell_join(words) : f.cmd;
  if (out->command.empty()) {
    return Status::error(
        "no command given: write it after -- (job submit -- echo hello) or with --cmd");
  }
  if (!f.timeout.empty()) {
    std::string why;
    auto timeout = parse_duration(f.timeout, &why);
    if (!timeout) return Status::error("--timeout: " + why);
    out->timeout = *timeout;
  }
  out->retries = f.retries;
  out->lost_retries = f.lost_retries;
  auto on_disconnect = api::parse_on_disconnect(f.on_disconnect);
  if (!on_disconnect) {
    return Status::error("--on-disconnect: '" + f.on_disconnect + "' is not stop or keep-running");
  }
  out->on_disconnect = *on_disconnect;
  for (const auto& item : f.env) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::error("--env: '" + item + "' is not K=V");
    }
    out->env[item.substr(0, eq)] = item.substr(eq + 1);
  }
  out->idempotency_key = f.idempotency_key;
  for (size_t start = 0; start < f.after.size();) {
    size_t comma = f.after.find(',', start);
    if (comma == std::string::npos) comma = f.after.size();
    std::string id = f.after.substr(start, comma - start);
    if (id.empty()) return Status::error("--after: an empty job id in '" + f.after + "'");
    out->after.push_back(id);
    start = comma + 1;
  }
  out->priority = f.priority;
  out->wait = f.wait;
  if (Status s = finish_needs(f, out); !s) return s;
  return finish_periodic(f, out);
}

Status finish_job_id(const JobIdFlags& f, std::string* out) {
  if (!f.positional.empty() && !f.flag.empty() && f.positional != f.flag) {
    return Status::error("two job ids given ('" + f.positional + "' and --job-id '" + f.flag +
                         "')");
  }
  *out = f.positional.empty() ? f.flag : f.positional;
  if (out->empty()) {
    std::string path;
    for (const CLI::App* app = f.app; app != nullptr; app = app->get_parent()) {
      path = app->get_name() + (path.empty() ? "" : " ") + path;
    }
    return Status::error("which job? give its id: " + path + " ID");
  }
  return Status::ok();
}

Status finish_wait(const WaitFlags& f, std::string* job_id, WaitOptions* out) {
  if (Status s = finish_job_id(f.id, job_id); !s) return s;
  if (!f.timeout.empty()) {
    std::string why;
    auto timeout = parse_duration(f.timeout, &why);
    if (!timeout) return Status::error("--timeout: " + why);
    if (timeout->count() <= 0) return Status::error("--timeout: must be more than 0s");
    out->timeout = *timeout;
  }
  return Status::ok();
}

Status finish_logs(const LogsFlags& f, std::string* job_id, LogsOptions* out) {
  if (Status s = finish_job_id(f.id, job_id); !s) return s;
  if (f.attempt_option->count() > 0 && f.attempt == 0) {
    return Status::error("--attempt: attempts are numbered from 1");
  }
  out->use_stderr = f.use_stderr;
  out->follow = f.follow;
  out->attempt = f.attempt;
  return Status::ok();
}

Status finish_list(const ListFlags& f, ListOptions* out) {
  if (!f.status.empty()) {
    auto status = api::parse_job_status(f.status);
    if (!status) {
      return Status::error("--status: '" + f.status +
                           "' is not one of pending, running, completed, failed, cancelled");
    }
    out->status = *status;
  }
  out->limit = f.limit;
  out->periodic = f.periodic;
  out->all = f.all;
  if (f.periodic && !f.status.empty()) {
    return Status::error(
        "--status applies to jobs, not to --periodic (active and paused periodic jobs are "
        "listed; --all adds the cancelled ones)");
  }
  if (f.all && !f.periodic) {
    return Status::error(
        "--all applies to --periodic: job list already shows jobs of every status (--status "
        "picks one)");
  }
  return Status::ok();
}

Status finish_bench(const BenchFlags& f, BenchOptions* out) {
  *out = f.options;
  if (out->clients < 1) return Status::error("--clients: must be 1 or more");
  if (out->requests < 1) return Status::error("--requests: must be 1 or more");
  if (out->channels < 0) return Status::error("--channels: must be 1 or more");
  std::string why;
  auto duration = parse_duration(f.duration, &why);
  if (!duration) return Status::error("--duration: " + why);
  out->duration = *duration;
  return Status::ok();
}

Status finish_bench_jobs(const BenchJobsFlags& f, BenchJobsOptions* out) {
  *out = f.options;
  if (out->clients < 1) return Status::error("--clients: must be 1 or more");
  if (out->count < 1) return Status::error("--count: must be 1 or more");
  if (out->channels < 0) return Status::error("--channels: must be 1 or more");
  if (out->command.empty()) return Status::error("--command: must not be empty");
  std::string why;
  auto duration = parse_duration(f.duration, &why);
  if (!duration) return Status::error("--duration: " + why);
  out->duration = *duration;
  return Status::ok();
}

Status finish_bench_spawn(const BenchSpawnFlags& f, BenchSpawnOptions* out) {
  *out = f.options;
  if (out->parallel < 1) return Status::error("--parallel: must be 1 or more");
  if (out->count < 1) return Status::error("--count: must be 1 or more");
  if (out->command.empty()) return Status::error("--command: must not be empty");
  return Status::ok();
}

Status finish_bench_agents(const BenchAgentsFlags& f, Invocation* inv) {
  auto* out = &inv->bench_agents;
  *out = f.options;
  if (out->agents < 1) return Status::error("--agents: must be 1 or more");
  if (out->count < 1) return Status::error("--count: must be 1 or more");
  if (out->concurrency < 1) return Status::error("--concurrency: must be 1 or more");
  if (out->slots < 1) return Status::error("--slots: must be 1 or more");
  if (out->leader_pid < 0) return Status::error("--leader-pid: must be a process id");
  if (out->connections < 0) return Status::error("--connections: must be 1 or more");
  if (out->command.empty()) return Status::error("--command: must not be empty");
  std::string why;
  auto idle = parse_duration(f.idle, &why);
  if (!idle) return Status::error("--idle: " + why);
  out->idle = *idle;
  auto duration = parse_duration(f.duration, &why);
  if (!duration) return Status::error("--duration: " + why);
  out->duration = *duration;
  auto heartbeat = parse_duration(f.heartbeat, &why);
  if (!heartbeat) return Status::error("--heartbeat: " + why);
  if (heartbeat->count() < 10) return Status::error("--heartbeat: must be 10ms or more");
  out->heartbeat = *heartbeat;
  auto idle_heartbeat = parse_duration(f.idle_heartbeat, &why);
  if (!idle_heartbeat) return Status::error("--idle-heartbeat: " + why);
  if (idle_heartbeat->count() < 10) return Status::error("--idle-heartbeat: must be 10ms or more");
  out->idle_heartbeat = *idle_heartbeat;
  if (f.servers.empty()) return Status::ok();
  if (Status s = parse_addresses(f.servers, &inv->client.addresses); !s) {
    std::string message = s.message();  // it names --addr, the flag it usually parses
    if (message.rfind("--addr: ", 0) == 0) message.erase(0, 8);
    return Status::error("--servers: " + message);
  }
  return Status::ok();
}

Status finish_client_security(const Flags& f, transport::OutgoingSecurity* out) {
  out->bearer_token = f.token;
  if (f.cert.empty() != f.key.empty()) {
    return Status::error("--cert and --key go together: give both, or neither");
  }
  if (!f.cert.empty() && f.ca_cert.empty()) {
    return Status::error("--cert: give --ca-cert too, the CA that signed the server's certificate");
  }
  if (f.ca_cert.empty()) return Status::ok();
  if (Status s = tls::read_pem_file(f.ca_cert, "--ca-cert", &out->tls.ca_pem); !s) return s;
  if (f.cert.empty()) return Status::ok();
  if (Status s = tls::read_pem_file(f.cert, "--cert", &out->tls.cert_pem); !s) return s;
  if (Status s = tls::read_pem_file(f.key, "--key", &out->tls.key_pem); !s) return s;
  return tls::check_key_matches_certificate(out->tls.cert_pem, out->tls.key_pem, "--cert " + f.cert,
                                            "--key " + f.key);
}

Status finish_tls_init(const TlsInitFlags& f, tls::DevPkiOptions* out) {
  *out = f.options;
  if (!f.options.out.empty() && f.options.add_node == 0) {
    return Status::error("tls init: --out goes with --add-node ID");
  }
  if (f.options.add_node != 0 && f.app->count("--nodes") > 0) {
    return Status::error(
        "tls init: --add-node makes one certificate from the existing CA; --nodes makes a new "
        "CA: give one of them");
  }
  std::stringstream hosts(f.hosts);
  for (std::string host; std::getline(hosts, host, ',');) {
    if (!host.empty()) out->hosts.push_back(host);
  }
  return Status::ok();
}

Status finish_client(const Flags& f, ClientOptions* out) {
  if (Status s = finish_client_security(f, &out->security); !s) return s;
  if (f.output == "json") {
    out->output = OutputFormat::kJson;
  } else if (f.output == "table") {
    out->output = OutputFormat::kTable;
  } else {
    return Status::error("-o: '" + f.output + "' is not an output format (table or json)");
  }
  return parse_addresses(f.addr, &out->addresses);
}

// Which command the parsed subcommands name, and its options checked and converted.
Status finish(Flags& f, const std::vector<std::string>& words, bool saw_dashes, Invocation* inv) {
  if (f.server.app->parsed()) {
    inv->command = Command::kServer;
    if (saw_dashes) return Status::error("unexpected '--' after the server's flags");
    if (!f.server.config_file.empty()) {
      if (Status s = apply_config_file(f.server.config_file, f.server.app); !s) return s;
    }
    inv->check_config = f.server.check_config;
    return finish_server(f.server, &inv->server);
  }
  if (f.agent.app->parsed()) {
    inv->command = Command::kAgent;
    if (saw_dashes) return Status::error("unexpected '--' after the agent's flags");
    return finish_agent(f.agent, &inv->agent);
  }
  if (f.tls_init.app->parsed()) {
    inv->command = Command::kTlsInit;
    if (saw_dashes) return Status::error("unexpected '--' after tls init");
    return finish_tls_init(f.tls_init, &inv->tls_init);
  }
  if (f.version->parsed()) {
    inv->command = Command::kVersion;
    if (saw_dashes) return Status::error("unexpected '--' after version");
    inv->version_json = f.version_json || f.output == "json";
    return Status::ok();
  }
  if (Status s = finish_client(f, &inv->client); !s) return s;
  inv->read = f.read;
  SubmitFlags* submit = f.job_submit.app->parsed()     ? &f.job_submit
                        : f.submit_alias.app->parsed() ? &f.submit_alias
                                                       : nullptr;
  if (submit) {
    inv->command = Command::kJobSubmit;
    return finish_submit(*submit, words, saw_dashes, &inv->submit);
  }
  if (saw_dashes) return Status::error("'--' and the words after it belong to job submit");
  if (f.job_status.app->parsed() || f.status_alias.app->parsed()) {
    inv->command = Command::kJobStatus;
    return finish_job_id(f.job_status.app->parsed() ? f.job_status : f.status_alias, &inv->job_id);
  }
  if (f.job_cancel.app->parsed()) {
    inv->command = Command::kJobCancel;
    return finish_job_id(f.job_cancel, &inv->job_id);
  }
  for (auto [flags, command] :
       {std::pair{&f.job_pause, Command::kJobPause}, std::pair{&f.job_resume, Command::kJobResume},
        std::pair{&f.job_run_now, Command::kJobRunNow}}) {
    if (!flags->app->parsed()) continue;
    inv->command = command;
    return finish_job_id(*flags, &inv->job_id);
  }
  if (f.job_wait.id.app->parsed()) {
    inv->command = Command::kJobWait;
    return finish_wait(f.job_wait, &inv->job_id, &inv->wait);
  }
  if (f.job_logs.id.app->parsed()) {
    inv->command = Command::kJobLogs;
    return finish_logs(f.job_logs, &inv->job_id, &inv->logs);
  }
  if (f.job_list.app->parsed() || f.list_alias.app->parsed()) {
    inv->command = Command::kJobList;
    return finish_list(f.job_list.app->parsed() ? f.job_list : f.list_alias, &inv->list);
  }
  if (f.transfer_leader->parsed()) {
    inv->command = Command::kClusterTransferLeader;
    if (f.transfer_leader->count("--to") && f.transfer_to == 0) {
      return Status::error("--to: give a node id (1, 2, ...), or leave --to out");
    }
    inv->transfer_to = f.transfer_to;
    return Status::ok();
  }
  if (f.cluster->parsed() && member_command_parsed(f.members)) {
    return finish_member(f.members, &inv->command, &inv->member);
  }
  if (f.cluster->parsed()) {
    inv->command = Command::kClusterStatus;
    return Status::ok();
  }
  if (f.node.drain->parsed() || f.node.eligibility->parsed()) return finish_node(f.node, inv);
  if (f.snapshot_save->parsed() || f.snapshot_inspect->parsed()) {
    inv->command = f.snapshot_save->parsed() ? Command::kSnapshotSave : Command::kSnapshotInspect;
    inv->snapshot_file = f.snapshot_file;
    return Status::ok();
  }
  if (f.bench.app->parsed()) {
    inv->command = Command::kBenchSubmit;
    return finish_bench(f.bench, &inv->bench);
  }
  if (f.bench_jobs.app->parsed()) {
    inv->command = Command::kBenchJobs;
    return finish_bench_jobs(f.bench_jobs, &inv->bench_jobs);
  }
  if (f.bench_spawn.app->parsed()) {
    inv->command = Command::kBenchSpawn;
    return finish_bench_spawn(f.bench_spawn, &inv->bench_spawn);
  }
  if (f.bench_agents.app->parsed()) {
    inv->command = Command::kBenchAgents;
    return finish_bench_agents(f.bench_agents, inv);
  }
  return Status::error("no command given");
}

// "nomad-lite job submit": the subcommands CLI11 got to, for hints in error messages.
std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  const CLI::App* current = &app;
  while (!current->get_subcommands().empty()) {
    current = current->get_subcommands().front();
    path += " " + current->get_name();
  }
  return path;
}

// CLI11's messages, reworded where they would confuse: extras come out in reverse order,
// and an unknown flag before any subcommand is reported as a missing subcommand.
std::string describe_parse_error(const CLI::App& app, const Flags& flags,
                                 const CLI::ParseError& e) {
  std::vector<std::string> extras = app.remaining(true);
  bool extras_error = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr;
  if (!extras.empty() && (extras_error || dynamic_cast<const CLI::RequiredError*>(&e))) {
    std::string words;
    for (const auto& word : extras) words += (words.empty() ? "" : " ") + word;
    if (extras.front().size() > 1 && extras.front()[0] == '-') {
      return "unknown option '" + extras.front() + "'";
    }
    std::string message = "unexpected argument '" + words + "'";
    if (flags.job_submit.app->parsed() || flags.submit_alias.app->parsed()) {
      message += "; put the job's command after -- (nomad-lite job submit -- echo hello)";
    }
    return message;
  }
  std::string message = e.what();
  const std::string conversion = "Could not convert: ";
  if (dynamic_cast<const CLI::ConversionError*>(&e) && message.rfind(conversion, 0) == 0) {
    // "Could not convert: --port = 70000"
    std::string rest = message.substr(conversion.size());
    size_t eq = rest.find(" = ");
    if (eq != std::string::npos) {
      return rest.substr(0, eq) + ": '" + rest.substr(eq + 3) +
             "' is not a number in the allowed range";
    }
  }
  return message;
}

}  // namespace

ParsedArgs parse_args(const std::vector<std::string>& args) {
  ParsedArgs result;
  if (args.empty()) {
    result.exit_code = 2;
    result.error = "nomad-lite: no command given (see nomad-lite --help)";
    return result;
  }

  if (args.size() == 1 && args[0] == "--version") {
    Invocation invocation;
    invocation.command = Command::kVersion;
    result.invocation = std::move(invocation);
    return result;
  }

  CLI::App app("nomad-lite: a distributed job scheduler (server, client and benchmark)",
               "nomad-lite");
  Flags flags;
  build_app(app, &flags);

  // The words after the first "--" are a job's command; CLI11 never sees them.
  auto dashes = std::find(args.begin(), args.end(), "--");
  bool saw_dashes = dashes != args.end();
  std::vector<std::string> words(saw_dashes ? dashes + 1 : args.end(), args.end());
  std::vector<std::string> line(args.begin(), dashes);

  // The seed's form: `nomad-lite --node-id 1 --port 50051 ...` starts a server.
  if (!line.empty() && line[0].size() > 1 && line[0][0] == '-' && line[0] != "-h" &&
      line[0] != "--help" &&
      flags.server.app->get_option_no_throw(line[0].substr(0, line[0].find('='))) != nullptr) {
    line.insert(line.begin(), "server");
  }

  std::reverse(line.begin(), line.end());  // CLI11 consumes the vector from its back
  Invocation invocation;
  try {
    app.parse(line);
  } catch (const CLI::Success& e) {  // --help
    std::ostringstream out, err;
    result.exit_code = app.exit(e, out, err);
    result.out = out.str();
    return result;
  } catch (const CLI::ParseError& e) {
    result.exit_code = 2;
    result.error = "nomad-lite: " + describe_parse_error(app, flags, e) + " (see " +
                   command_path(app) + " --help)";
    std::replace(result.error.begin(), result.error.end(), '\n', ' ');
    return result;
  }
  if (Status s = finish(flags, words, saw_dashes, &invocation); !s) {
    result.exit_code = 2;
    result.error = "nomad-lite: " + s.message();
    return result;
  }
  result.invocation = std::move(invocation);
  return result;
}

}  // namespace nomad::cli
