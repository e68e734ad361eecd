#include "cli/cli.h"

#include <iostream>

#include "cli/args.h"
#include "cli/bench.h"
#include "cli/bench_agents.h"
#include "cli/bench_etcd.h"
#include "cli/bench_jobs.h"
#include "cli/bench_spawn.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/snapshot_commands.h"
#include "cli/tls_init.h"
#include "cli/version.h"
#include "server/agent_config.h"
#include "server/config_check.h"
#include "server/server.h"
#include "transport/grpc_logging.h"
#include "transport/security.h"

namespace nomad::cli {

int run_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  ParsedArgs parsed = parse_args(args);
  if (!parsed.invocation) {
    std::cout << parsed.out;
    if (!parsed.error.empty()) std::cerr << parsed.error << "\n";
    return parsed.exit_code;
  }
  const Invocation& invocation = *parsed.invocation;
  if (invocation.command == Command::kVersion) {
    std::cout << (invocation.version_json ? version_json() : version_line()) << "\n";
    return 0;
  }
  if (invocation.command == Command::kServer && invocation.check_config) {
    return server::check_server_config(invocation.server, std::cout, std::cerr);
  }
  if (invocation.command == Command::kAgent) return server::run_agent(invocation.agent);
  if (invocation.command != Command::kServer) {
    transport::quiet_grpc_logs();
    transport::set_outgoing_security(invocation.client.security);
  }
  switch (invocation.command) {
    case Command::kServer:
      return server::run_server(invocation.server);
    case Command::kTlsInit:
      return run_tls_init(invocation.tls_init, std::cout, std::cerr);
    case Command::kSnapshotInspect:
      return run_snapshot_inspect(invocation.snapshot_file, invocation.client.output, std::cout,
                                  std::cerr);
    case Command::kSnapshotSave: {
      Client client(invocation.client.addresses);
      return run_snapshot_save(invocation.snapshot_file, invocation.client.output, client,
                               std::cout, std::cerr);
    }
    case Command::kBenchSubmit:
      if (invocation.bench.target == "etcd") {
        return run_etcd_bench(invocation.bench, invocation.client.addresses, std::cout, std::cerr);
      }
      return run_bench(invocation.bench, invocation.client.addresses, std::cout, std::cerr);
    case Command::kBenchAgents:
      return run_bench_agents(invocation.bench_agents, invocation.client.addresses, std::cout,
                              std::cerr);
    case Command::kBenchSpawn:
      return run_bench_spawn(invocation.bench_spawn, std::cout, std::cerr);
    case Command::kBenchJobs:
      return run_bench_jobs(invocation.bench_jobs, invocation.client.addresses, std::cout,
                            std::cerr);
    default: {
      Client client(invocation.client.addresses);
      return run_client_command(invocation, client, std::cout, std::cerr);
    }
  }
}

}  // namespace nomad::cli
