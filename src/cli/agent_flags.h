#pragma once

// The flags of `nomad-lite agent` (README "Worker-only agents"), bound to a CLI11 subcommand
// and then checked into a server::AgentConfig. Used by args.cc only.

#include <CLI/CLI.hpp>
#include <string>

#include "common/status.h"
#include "server/agent_config.h"

namespace nomad::cli {

struct AgentFlags {
  CLI::App* app = nullptr;
  server::AgentConfig config;
  std::string servers;
  std::string executor = "raw";
};

void add_agent_flags(CLI::App* app, AgentFlags* f);

// Checks what the flags' types alone do not and fills *out; the error names the flag.
Status finish_agent(const AgentFlags& f, server::AgentConfig* out);

}  // namespace nomad::cli
