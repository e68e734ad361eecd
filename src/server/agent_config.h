#pragma once

// The settings of `nomad-lite agent` (README "Worker-only agents"), as the command line gives
// them (cli/agent_flags.h checks them).

#include <cstdint>
#include <string>
#include <vector>

#include "common/isolation.h"
#include "worker/capacity.h"

namespace nomad::server {

struct AgentConfig {
  std::vector<std::string> servers;  // --servers: any of the cluster's servers, host:port
  int slots = -1;                    // --slots: attempts at once; -1: one per core
  worker::CapacityFlags capacity;    // --cpu, --memory, --label, --node-name
  std::string data_dir = "./data/agent";
  // --listen: where servers fetch its jobs' output (InternalService.StreamLogs); port 0 picks
  // a free one. --advertise: the address servers dial, when --listen's is not it.
  std::string listen = "127.0.0.1:0";
  std::string advertise;
  std::string tls_cert, tls_key, tls_ca;  // all three or none
  std::string token_file;                 // without TLS: its operator token is presented
  common::Isolation executor = common::Isolation::kRaw;
  std::string job_user;
  uint64_t output_cap = 10 << 20;
  std::string log_level = "info";
  std::string log_format = "text";
};

// Runs the agent until SIGINT or SIGTERM; the exit code.
int run_agent(const AgentConfig& config);

}  // namespace nomad::server
