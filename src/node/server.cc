// `nomad-lite server`: wires a Node to its gRPC services and runs until SIGINT or SIGTERM.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "api/grpc_service.h"
#include "api/service.h"
#include "http/http_server.h"
#include "node/node.h"
#include "node/server_config.h"
#include "transport/peer_transport.h"

namespace nomad::node {
namespace {

int config_error(const std::string& message) {
  std::fprintf(stderr, "nomad-lite: %s\n", message.c_str());
  return 2;
}

}  // namespace

int run_server(const ServerConfig& config) {
  auto level = spdlog::level::from_str(config.log_level);
  if (level == spdlog::level::off && config.log_level != "off") {
    return config_error("--log-level '" + config.log_level +
                        "' is not one of trace, debug, info, warn, error");
  }
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [node " + std::to_string(config.node_id) +
                      "] %v");

  // Signals are taken synchronously by this thread; every thread started below inherits the
  // mask, so none of them is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Node node(config);
  api::Service service(node);
  api::GrpcSchedulerService scheduler(service);
  api::GrpcInternalService internal(service, node);
  transport::RaftServiceImpl raft([&node](raft::Message m) { node.receive(std::move(m)); },
                                  [&node](raft::NodeId peer) { node.note_contact(peer); });

  std::string listen = config.bind + ":" + std::to_string(config.port);
  int bound_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &bound_port);
  // gRPC sets SO_REUSEPORT by default, which would let a second server share a busy port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  builder.RegisterService(&scheduler);
  builder.RegisterService(&raft);
  builder.RegisterService(&internal);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    return config_error("cannot listen on " + listen +
                        ": the port is in use or the address is not local; pick another --port "
                        "or --bind");
  }
  std::unique_ptr<http::HttpServer> dashboard;
  if (config.dashboard_port != 0) {
    dashboard = std::make_unique<http::HttpServer>(service);
    if (Status s = dashboard->bind(config.bind, config.dashboard_port); !s) {
      server->Shutdown();
      return config_error(s.message());
    }
    node.add_jobs_listener(
        [d = dashboard.get()](const std::vector<std::string>& ids) { d->jobs_changed(ids); });
  }
  if (Status s = node.start(); !s) {
    server->Shutdown();
    return config_error(s.message());
  }
  spdlog::info("node {} serving gRPC on {} (advertised as {}), data in {}, peers: {}",
               config.node_id, listen, config.advertise_address(), config.effective_data_dir(),
               config.peers.empty() ? std::string("none") : [&] {
                 std::string out;
                 for (const auto& p : config.peers) {
                   out += (out.empty() ? "" : ", ") + std::to_string(p.id) + "@" + p.address();
                 }
                 return out;
               }());
  if (config.insecure) {
    spdlog::warn("INSECURE: listening on {} (--insecure) with no TLS and no client "
                 "authentication: anyone who reaches port {}{} can run shell commands on every "
                 "node of this cluster",
                 config.bind, config.port,
                 config.dashboard_port ? " or " + std::to_string(config.dashboard_port) : "");
  }
  if (dashboard) dashboard->start();

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}, shutting down", received == SIGINT ? "SIGINT" : "SIGTERM");
  if (dashboard) dashboard->stop();  // ends event streams and followed output first
  raft.stop();                       // peers' streams into this node would hold Shutdown up
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  node.stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace nomad::node
