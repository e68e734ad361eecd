#pragma once

// The flags of `nomad-lite server`, bound to a CLI11 subcommand and then checked into a
// node::ServerConfig. Used by args.cc only.

#include <sys/types.h>

#include <CLI/CLI.hpp>
#include <string>

#include "common/isolation.h"
#include "common/status.h"
#include "node/server_config.h"
#include "worker/capacity.h"

namespace nomad::cli {

struct ServerFlags {
  CLI::App* app = nullptr;
  node::ServerConfig config;
  std::string peers;
  std::string join;  // --join: members of a running cluster to ask for admission
  std::string election_timeout = "150ms";
  std::string heartbeat_interval = "50ms";
  std::string worker_timeout = "5s";
  std::string kill_grace = "5s";
  std::string default_timeout = "0s";
  std::string retain_for = "7d";
  std::string forget_agents_after = "24h";
  std::string executor = "raw";
  std::string placement = "spread";
  std::string config_file;    // --config: a TOML file of these flags (config_file.h)
  bool check_config = false;  // --check-config: check everything, start nothing
};

inline constexpr const char* kServerFooter =
    "A server also starts without the word 'server': nomad-lite --node-id 1 --port 50051";

// Adds the server's flags to `app` (the `server` subcommand), bound to *f.
void add_server_flags(CLI::App* app, ServerFlags* f);

// Checks what the flags' types alone do not (ids, ports, peers, durations, log level) and
// fills *out. The error names the flag and what is wrong with it.
Status finish_server(const ServerFlags& f, node::ServerConfig* out);

// --job-user: the user exists, is not root, and the server (effective uid server_euid) is root,
// as switching to another user needs.
Status check_job_user(const std::string& user, uid_t server_euid);

// Least privilege by default, as Nomad's exec driver: a server run as root runs its jobs as
// kDefaultJobUser unless --job-user says otherwise; `--job-user root` (given) keeps them root
// (user becomes "", the server's, and the worker logs a warning). A server not run as root
// runs jobs as itself. `user` holds the flag's value in, the user to switch to out.
inline constexpr const char* kDefaultJobUser = "nobody";
Status resolve_job_user(bool given, uid_t server_euid, std::string* user);

// The flags `server` and `agent` share, as given: TLS files, how many jobs run at once and how,
// what the worker offers them, the log.
struct JobRunnerFlags {
  const char* slots_flag;  // --worker-slots (server) or --slots (agent)
  int slots;               // -1: one per core
  worker::CapacityFlags capacity;
  std::string tls_cert, tls_key, tls_ca;
  std::string executor;  // raw or sandbox
  bool job_user_given;
  std::string job_user;
  uint64_t output_cap;
  std::string log_level, log_format;
};

// Checks `f`; fills the executor and the user jobs run as (resolve_job_user). The error names
// the flag and what is wrong with it.
Status check_job_runner_flags(const JobRunnerFlags& f, common::Isolation* executor,
                              std::string* job_user);

// The same for `server` (ServerFlags, node::ServerConfig) or `agent` (AgentFlags,
// server::AgentConfig), whose flags and configs name these alike: `c` is the config being
// filled; the slots and the capacity are named differently and come apart.
template <class Flags, class Config>
Status check_job_runner_flags(const Flags& f, const char* slots_flag, int slots,
                              worker::CapacityFlags capacity, Config* c) {
  return check_job_runner_flags({slots_flag, slots, std::move(capacity), c->tls_cert, c->tls_key,
                                 c->tls_ca, f.executor, f.app && f.app->count("--job-user") > 0,
                                 c->job_user, c->output_cap, c->log_level, c->log_format},
                                &c->executor, &c->job_user);
}

// 127.0.0.0/8, ::1 or localhost: an address only this machine reaches.
bool is_loopback(const std::string& address);

}  // namespace nomad::cli
