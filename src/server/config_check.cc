#include "server/config_check.h"

#include "server/secret_files.h"
#include "server/server_security.h"

namespace nomad::server {

int check_server_config(const ServerConfig& config, std::ostream& out, std::ostream& err) {
  ServerSecurity security;
  Status s = load_server_security(config, &security);
  if (s) s = check_secrets_private(config);
  if (!s) {
    err << "nomad-lite: " << s.message() << "\n";
    return 2;
  }
  std::string peers;
  for (const auto& p : config.peers) {
    peers += (peers.empty() ? "" : ",") + std::to_string(p.id) + ":" + p.address();
  }
  out << "configuration OK: node " << config.node_id << ", gRPC on " << config.bind << ":"
      << config.port << " (advertised as " << config.advertise_address() << "), dashboard "
      << (config.dashboard_port ? std::to_string(config.dashboard_port) : std::string("off"))
      << ", peers " << (peers.empty() ? "none" : peers) << ", data in "
      << config.effective_data_dir() << ", " << (security.tls.enabled() ? "TLS" : "no TLS") << ", "
      << (security.auth.enabled() ? "client tokens" : "no client tokens") << ", jobs run as "
      << (config.job_user.empty() ? "the server's user" : config.job_user) << "\n";
  return 0;
}

}  // namespace nomad::server
