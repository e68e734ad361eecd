#include "cli/tls_init.h"

#include <iomanip>
#include <string>

namespace nomad::cli {

namespace {

int add_node(const tls::DevPkiOptions& options, std::ostream& out, std::ostream& err) {
  if (Status s = tls::add_node_certificate(options); !s) {
    err << "nomad-lite: tls init --add-node: " << s.message() << "\n";
    return 1;
  }
  const std::string n = std::to_string(options.add_node);
  const std::string& o = options.out.empty() ? options.dir : options.out;
  out << "Wrote " << o << "/node-" << n << ".pem and " << o << "/node-" << n
      << "-key.pem, signed by " << options.dir << "/ca.pem.\n\n"
      << "Start node " << n << " and let it join the cluster:\n"
      << "  nomad-lite server --node-id " << n << " --port PORT --join MEMBER_HOST:PORT \\\n"
      << "    --tls-cert " << o << "/node-" << n << ".pem --tls-key " << o << "/node-" << n
      << "-key.pem --tls-ca " << options.dir << "/ca.pem \\\n"
      << "    --token-file " << options.dir << "/tokens\n";
  return 0;
}

}  // namespace

int run_tls_init(const tls::DevPkiOptions& options, std::ostream& out, std::ostream& err) {
  if (options.add_node != 0) return add_node(options, out, err);
  if (Status s = tls::init_dev_pki(options); !s) {
    err << "nomad-lite: tls init: " << s.message() << "\n";
    return 1;
  }
  const std::string& d = options.dir;
  auto row = [&out](const std::string& files, const std::string& what) {
    out << "  " << std::left << std::setw(30) << files << what << "\n";
  };
  out << "Wrote into " << d << "/:\n";
  row("ca.pem, ca-key.pem", "the development CA (keep ca-key.pem off the nodes)");
  for (int i = 1; i <= options.nodes; ++i) {
    std::string n = std::to_string(i);
    row("node-" + n + ".pem, node-" + n + "-key.pem", "node " + n + "'s certificate");
  }
  for (int i = 1; i <= options.agents; ++i) {
    std::string n = std::to_string(i);
    row("agent-" + n + ".pem, agent-" + n + "-key.pem", "agent certificate " + n);
  }
  row("client.pem, client-key.pem", "a client certificate for the CLI");
  row("tokens", "client tokens: one operator, one submit, one read");
  out << "\n"
      << "Start node 1 (likewise the others, with their own certificate):\n"
      << "  nomad-lite server --node-id 1 --port 50051 --dashboard-port 8081 \\\n"
      << "    --peers \"2:127.0.0.1:50052,3:127.0.0.1:50053\" \\\n"
      << "    --tls-cert " << d << "/node-1.pem --tls-key " << d << "/node-1-key.pem --tls-ca " << d
      << "/ca.pem \\\n"
      << "    --token-file " << d << "/tokens\n\n"
      << (options.agents > 0
              ? "Start a worker-only agent with:\n  nomad-lite agent --servers "
                "127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053 \\\n    --tls-cert " +
                    d + "/agent-1.pem --tls-key " + d + "/agent-1-key.pem --tls-ca " + d +
                    "/ca.pem\n\n"
              : std::string())
      << "Then use the CLI with:\n"
      << "  export NOMAD_LITE_CACERT=" << d << "/ca.pem NOMAD_LITE_CLIENT_CERT=" << d
      << "/client.pem NOMAD_LITE_CLIENT_KEY=" << d << "/client-key.pem\n"
      << "  export NOMAD_LITE_TOKEN=$(awk '$1 == \"operator\" {print $2}' " << d << "/tokens)\n";
  return 0;
}

}  // namespace nomad::cli
