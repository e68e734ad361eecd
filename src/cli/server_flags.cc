#include "cli/server_flags.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "cli/address.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/peers.h"
#include "worker/capacity.h"
#include "worker/spawn.h"

namespace nomad::cli {

bool is_loopback(const std::string& address) {
  if (address == "localhost" || address == "::1" || address == "[::1]") return true;
  // 127.0.0.0/8, written as a dotted quad.
  unsigned a = 0, b = 0, c = 0, d = 0;
  char rest = 0;
  return std::sscanf(address.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &rest) == 4 && a == 127 &&
         b <= 255 && c <= 255 && d <= 255;
}

Status check_job_user(const std::string& user, uid_t server_euid) {
  if (user.empty()) return Status::error("--job-user: empty user name");
  worker::Identity id;
  if (Status s = worker::lookup_identity(user, &id); !s) {
    return Status::error("--job-user '" + user + "': " + s.message() +
                         (s.message() == "no such user" ? "; create it or pick another" : ""));
  }
  if (id.uid == 0) {
    return Status::error("--job-user '" + user +
                         "': that user is root (uid 0), so jobs would keep every privilege; pick "
                         "an unprivileged user such as nobody (or say --job-user root if that is "
                         "what you want)");
  }
  if (server_euid != 0) {
    return Status::error("--job-user needs the server to run as root (it is running as uid " +
                         std::to_string(server_euid) +
                         "); drop the flag or start the server as root");
  }
  return Status::ok();
}

Status resolve_job_user(bool given, uid_t server_euid, std::string* user) {
  if (given && *user == "root") {
    if (server_euid != 0) return check_job_user(*user, server_euid);
    user->clear();  // jobs keep the server's root: the worker warns at start
    return Status::ok();
  }
  if (given) return check_job_user(*user, server_euid);
  if (server_euid != 0) return Status::ok();  // jobs run as the server's own user
  worker::Identity nobody;
  if (!worker::lookup_identity(kDefaultJobUser, &nobody)) {
    return Status::error(std::string("a server run as root runs its jobs as ") + kDefaultJobUser +
                         ", but there is no such user: create it, or choose with --job-user USER "
                         "(--job-user root runs them as root)");
  }
  *user = kDefaultJobUser;
  return Status::ok();
}

Status check_job_runner_flags(const JobRunnerFlags& f, common::Isolation* executor,
                              std::string* job_user) {
  const int tls_files = !f.tls_cert.empty() + !f.tls_key.empty() + !f.tls_ca.empty();
  if (tls_files != 0 && tls_files != 3) {
    return Status::error(
        "--tls-cert, --tls-key and --tls-ca go together: give all three or none (nomad-lite "
        "tls init DIR makes a CA and a certificate for each node and agent)");
  }
  if (f.slots < -1) return Status::error(std::string(f.slots_flag) + ": must be 0 or more");
  nomad_lite::NodeCapacity capacity;
  if (Status s = worker::capacity_from_flags(f.capacity, &capacity); !s) return s;
  if (!common::isolation_from_name(f.executor, executor)) {
    return Status::error("--executor: '" + f.executor + "' is not raw or sandbox");
  }
  *job_user = f.job_user;
  if (Status s = resolve_job_user(f.job_user_given, geteuid(), job_user); !s) return s;
  if (f.output_cap < 1024) return Status::error("--max-output: must be at least 1024 bytes");
  static const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error"};
  if (std::find(levels.begin(), levels.end(), f.log_level) == levels.end()) {
    return Status::error("--log-level: '" + f.log_level +
                         "' is not one of trace, debug, info, warn, error");
  }
  if (!common::parse_log_format(f.log_format)) {
    return Status::error("--log-format: '" + f.log_format + "' is not text or json");
  }
  return Status::ok();
}

void add_server_flags(CLI::App* app, ServerFlags* f) {
  f->app = app;
  auto& c = f->config;
  app->add_option("--node-id", c.node_id, "This node's id, unique in the cluster")
      ->capture_default_str();
  app->add_option("--port", c.port, "gRPC port (client API and peers)")->capture_default_str();
  app->add_option("--dashboard-port", c.dashboard_port, "Dashboard and REST API port (0: none)");
  app->add_option("--peers", f->peers, "The other nodes: \"id:host:port,...\"");
  app->add_option("--join", f->join,
                  "Join a running cluster: any of its members, \"host:port,...\" (instead of "
                  "--peers; the leader adds this node as a learner, then as a voter)");
  app->add_option("--data-dir", c.data_dir, "Data directory (default ./data/node-<id>)");
  app->add_option("--bind", c.bind, "Address the ports listen on")->capture_default_str();
  app->add_flag("--insecure", c.insecure,
                "Allow a --bind beyond loopback without TLS and a token file, although anyone "
                "who reaches the ports could then run commands");
  app->add_option("--tls-cert", c.tls_cert,
                  "This node's certificate (PEM): TLS on both ports, mutual TLS with peers and "
                  "clients (with --tls-key and --tls-ca; nomad-lite tls init makes them)");
  app->add_option("--tls-key", c.tls_key, "The private key of --tls-cert (PEM)");
  app->add_option("--tls-ca", c.tls_ca,
                  "The CA (PEM) every peer's and gRPC client's certificate must chain to");
  app->add_option("--token-file", c.token_file,
                  "Client tokens, one per line as ROLE TOKEN (roles: read, submit, operator); "
                  "without it no token is asked for");
  app->add_option("--advertise", c.advertise,
                  "host:port peers and clients reach this node at (default bind:port)");
  app->add_option("--election-timeout", f->election_timeout,
                  "Minimum election timeout, randomized up to twice that")
      ->capture_default_str();
  app->add_option("--heartbeat-interval", f->heartbeat_interval, "Leader heartbeat interval")
      ->capture_default_str();
  app->add_option("--log-level", c.log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  app->add_option("--log-format", c.log_format,
                  "text (one line per event) or json (one JSON object per line)")
      ->capture_default_str();
  app->add_option("--worker-slots", c.worker_slots,
                  "Jobs this node runs at once (default: one per core; 0: none)");
  app->add_option("--cpu", c.cpu,
                  "Cores this node offers jobs, e.g. 2 or 0.5 (default: the machine's cores)");
  app->add_option("--memory", c.memory,
                  "Memory this node offers jobs, e.g. 4GiB (default: the machine's memory)");
  app->add_option("--label", c.labels,
                  "A label jobs may constrain on, key=value (repeat for more: --label gpu=true "
                  "--label zone=eu-1)");
  app->add_option("--node-name", c.node_name,
                  "This node's name in status views (default: host name)");
  app->add_option("--placement", f->placement,
                  "spread: each job to the node with the most free; binpack: to the fullest "
                  "node that fits (used while this node leads)")
      ->capture_default_str();
  app->add_option("--worker-timeout", f->worker_timeout,
                  "A worker silent this long has its running jobs declared lost")
      ->capture_default_str();
  app->add_option("--kill-grace", f->kill_grace,
                  "After SIGTERM (timeout, cancel), SIGKILL follows this much later")
      ->capture_default_str();
  app->add_option("--default-timeout", f->default_timeout,
                  "Timeout of jobs submitted without --timeout (0s: none)")
      ->capture_default_str();
  app->add_option("--executor", f->executor,
                  "raw: jobs run as plain processes; sandbox: under bubblewrap (read-only "
                  "root, private /tmp, no network)")
      ->capture_default_str();
  app->add_option("--job-user", c.job_user,
                  "Run every job as this unprivileged user with its groups; the server must run "
                  "as root, and then defaults to nobody ('root' keeps jobs as root, with a "
                  "warning)");
  app->add_option("--max-output", c.output_cap,
                  "Bytes of stdout (and of stderr) kept per attempt; the rest is cut")
      ->capture_default_str();
  app->add_option("--max-pending", c.max_pending_proposals,
                  "Writes waiting to commit at most; beyond, a write is refused as overloaded "
                  "(gRPC RESOURCE_EXHAUSTED, HTTP 429)")
      ->capture_default_str();
  app->add_option("--retain-jobs", c.retain_jobs, "Finished jobs kept; older ones are removed")
      ->capture_default_str();
  app->add_option("--retain-for", f->retain_for, "Finished jobs older than this are removed")
      ->capture_default_str();
  app->add_option("--forget-agents-after", f->forget_agents_after,
                  "An agent silent this long with nothing running is forgotten (0s: never)")
      ->capture_default_str();
  app->add_option("--snapshot-entries", c.snapshot_entries,
                  "Take a snapshot after this many applied entries, or after as many as there are "
                  "jobs (up to 16 times this) when there are more")
      ->capture_default_str();
  app->add_option("--restore", c.restore_file,
                  "Bootstrap a new cluster from a snapshot file (operator snapshot save) into an "
                  "empty data directory; give every node of the new cluster the same file");
  app->add_flag("--force-new-cluster", c.force_new_cluster,
                "Disaster recovery when a majority is gone for good: keep this node's committed "
                "state and start it as a one-node cluster that new nodes can --join");
  app->add_option("--config", f->config_file,
                  "A TOML file of these flags, as key = value with the long name: node-id = 1, "
                  "peers = \"2:10.0.0.2:50051\", insecure = true; flags given here win");
  app->add_flag("--check-config", f->check_config,
                "Check the flags, the --config file and the TLS and token files, print what "
                "the node would run with and exit (0: fine, 2: the problem)");
  app->fallthrough(false);  // --addr and -o mean nothing to a server
  app->footer(kServerFooter);
}

// --join: not with --peers (one bootstraps a new cluster, the other joins a running one),
// addresses as --addr takes them, none of them this node's own.
static Status finish_join(const std::string& text, node::ServerConfig& c) {
  if (text.empty()) return Status::ok();
  if (!c.peers.empty()) {
    return Status::error(
        "--peers and --join do not go together: --peers starts a new cluster with those "
        "members, --join asks a running cluster to add this node; give one of them");
  }
  if (Status s = parse_addresses(text, &c.join); !s) return Status::error("--join: " + s.message());
  for (const auto& address : c.join) {
    if (address == c.advertise_address()) {
      return Status::error("--join: " + address +
                           " is this node's own address; give the address of a member of the "
                           "running cluster");
    }
  }
  return Status::ok();
}

Status finish_server(const ServerFlags& f, node::ServerConfig* out) {
  node::ServerConfig c = f.config;
  if (c.node_id == 0) return Status::error("--node-id: 0 is not a node id (use a number from 1)");
  if (c.port == 0) return Status::error("--port: 0 is not a port (use 1-65535)");
  if (c.dashboard_port != 0 && c.dashboard_port == c.port) {
    return Status::error("--dashboard-port: " + std::to_string(c.port) +
                         " is already the gRPC --port");
  }
  if (c.bind.empty()) return Status::error("--bind: empty address");
  if (!c.restore_file.empty() && c.force_new_cluster) {
    return Status::error(
        "--restore and --force-new-cluster do not go together: --restore starts a new cluster "
        "from a snapshot file, --force-new-cluster from this node's own data directory");
  }
  if (Status s = check_job_runner_flags(f, "--worker-slots", c.worker_slots,
                                        {c.cpu, c.memory, c.labels, c.node_name}, &c);
      !s) {
    return s;
  }
  const bool protected_ports = !c.tls_cert.empty() && !c.token_file.empty();
  const bool loopback = is_loopback(c.bind);
  if (!loopback && !protected_ports && !c.insecure) {
    return Status::error(
        "--bind " + c.bind +
        ": refusing to listen beyond this machine without TLS and client tokens, since anyone "
        "who reaches the ports could run shell commands on every node; give --tls-cert, "
        "--tls-key, --tls-ca and --token-file (nomad-lite tls init DIR makes them all), keep "
        "the default 127.0.0.1, or add --insecure on a network you trust");
  }
  // Only an exposed, unprotected node has anything to warn of.
  c.insecure = c.insecure && !loopback && !protected_ports;
  if (!c.advertise.empty()) {
    size_t colon = c.advertise.rfind(':');
    std::string port = colon == std::string::npos ? "" : c.advertise.substr(colon + 1);
    bool digits = !port.empty() && port.size() <= 5 &&
                  std::all_of(port.begin(), port.end(),
                              [](unsigned char ch) { return std::isdigit(ch) != 0; });
    if (colon == 0 || !digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
      return Status::error("--advertise: '" + c.advertise + "' is not host:port");
    }
  }
  if (Status s = parse_peers(f.peers, c.node_id, &c.peers); !s) return s;
  if (Status s = finish_join(f.join, c); !s) return s;
  std::string why;
  auto election = parse_duration(f.election_timeout, &why);
  if (!election) return Status::error("--election-timeout: " + why);
  auto heartbeat = parse_duration(f.heartbeat_interval, &why);
  if (!heartbeat) return Status::error("--heartbeat-interval: " + why);
  if (election->count() <= 0 || heartbeat->count() <= 0) {
    return Status::error("--election-timeout and --heartbeat-interval must be longer than 0");
  }
  if (*heartbeat >= *election) {
    return Status::error("--heartbeat-interval (" + format_duration(*heartbeat) +
                         ") must be shorter than --election-timeout (" +
                         format_duration(*election) + ")");
  }
  struct Named {
    const char* flag;
    const std::string& text;
    std::chrono::milliseconds* out;
    bool zero_ok;
  };
  for (const Named& d :
       {Named{"--worker-timeout", f.worker_timeout, &c.worker_timeout, false},
        Named{"--kill-grace", f.kill_grace, &c.kill_grace, true},
        Named{"--default-timeout", f.default_timeout, &c.default_timeout, true},
        Named{"--retain-for", f.retain_for, &c.retain_for, false},
        Named{"--forget-agents-after", f.forget_agents_after, &c.forget_agents_after, true}}) {
    auto v = parse_duration(d.text, &why);
    if (!v) return Status::error(std::string(d.flag) + ": " + why);
    if (!d.zero_ok && v->count() <= 0)
      return Status::error(std::string(d.flag) + ": must be longer than 0");
    *d.out = *v;
  }
  if (c.max_pending_proposals == 0)
    return Status::error("--max-pending: 0 would refuse every write");
  c.election_timeout = *election;
  c.heartbeat_interval = *heartbeat;
  auto placement = jobs::placement_policy_from_name(f.placement);
  if (!placement) {
    return Status::error("--placement: '" + f.placement + "' is not spread or binpack");
  }
  c.placement = *placement;
  if (c.snapshot_entries == 0) return Status::error("--snapshot-entries: must be 1 or more");
  *out = std::move(c);
  return Status::ok();
}

}  // namespace nomad::cli
