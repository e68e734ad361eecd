#include "cli/agent_flags.h"

#include "cli/address.h"
#include "cli/server_flags.h"

namespace nomad::cli {

void add_agent_flags(CLI::App* app, AgentFlags* f) {
  f->app = app;
  auto& c = f->config;
  app->add_option("--servers", f->servers,
                  "Servers of the cluster to register with, \"host:port,...\" (any of them: a "
                  "follower forwards to the leader)")
      ->required();
  app->add_option("--node-name", c.capacity.name, "This agent's name (default: the host name)");
  app->add_option("--slots", c.slots, "Jobs this agent runs at once (default: one per core)");
  app->add_option("--cpu", c.capacity.cpu, "CPU cores offered to jobs (default: the machine's)");
  app->add_option("--memory", c.capacity.memory,
                  "Memory offered to jobs, e.g. 4GiB (default: the machine's)");
  app->add_option("--label", c.capacity.labels, "A label key=value for constraints (repeatable)");
  app->add_option("--data-dir", c.data_dir,
                  "Its id (agent.json) and its jobs' output; the same directory makes a "
                  "restarted agent the same agent")
      ->capture_default_str();
  app->add_option("--listen", c.listen,
                  "host:port where servers fetch its jobs' output (port 0: any free port)")
      ->capture_default_str();
  app->add_option("--advertise", c.advertise,
                  "host:port servers reach --listen at (default: --listen's host and port)");
  app->add_option("--tls-cert", c.tls_cert,
                  "This agent's certificate (PEM, agent-K.pem from tls init --agents N)");
  app->add_option("--tls-key", c.tls_key, "The private key of --tls-cert (PEM)");
  app->add_option("--tls-ca", c.tls_ca, "The cluster's CA (PEM)");
  app->add_option("--token-file", c.token_file,
                  "The servers' token file: without TLS the agent presents its operator token");
  app->add_option("--executor", f->executor, "raw or sandbox (as the server's)")
      ->capture_default_str();
  app->add_option("--job-user", c.job_user, "Run jobs as this user (as the server's)");
  app->add_option("--max-output", c.output_cap, "Bytes of stdout (and stderr) kept per attempt")
      ->capture_default_str();
  app->add_option("--log-level", c.log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  app->add_option("--log-format", c.log_format, "text or json")->capture_default_str();
  app->fallthrough(false);
  app->footer(
      "Example: nomad-lite agent --servers 127.0.0.1:50051,127.0.0.1:50052 --slots 4 "
      "--label zone=a --data-dir ./data/agent-1");
}

Status finish_agent(const AgentFlags& f, server::AgentConfig* out) {
  server::AgentConfig c = f.config;
  if (Status s = parse_addresses(f.servers, &c.servers); !s) {
    return Status::error("--servers: " + s.message());
  }
  if (c.servers.empty()) return Status::error("--servers: give at least one server host:port");
  if (c.data_dir.empty()) return Status::error("--data-dir: give a directory");
  if (c.listen.rfind(':') == std::string::npos) {
    return Status::error("--listen: '" + c.listen + "' is not host:port");
  }
  if (Status s = check_job_runner_flags(f, "--slots", c.slots, c.capacity, &c); !s) return s;
  *out = std::move(c);
  return Status::ok();
}

}  // namespace nomad::cli
