// `nomad-lite server`: wires a Node to its gRPC services and runs until SIGINT or SIGTERM.

#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>

#include "api/agent_streams.h"
#include "api/agents.h"
#include "api/grpc_service.h"
#include "api/peer_gate.h"
#include "api/service.h"
#include "api/token_gate.h"
#include "common/log.h"
#include "http/http_server.h"
#include "metrics/process.h"
#include "server/backup.h"
#include "server/cluster_port_adapter.h"
#include "server/health_status.h"
#include "server/join.h"
#include "server/membership_adapter.h"
#include "server/node_host.h"
#include "server/node_metrics.h"
#include "server/secret_files.h"
#include "server/server_security.h"
#include "server/shutdown_watchdog.h"
#include "transport/channel_args.h"
#include "transport/grpc_logging.h"
#include "transport/grpc_metrics.h"
#include "transport/peer_transport.h"
#include "transport/security.h"

namespace nomad::server {

namespace {

// Waits for SIGTERM or SIGINT. (Freed memory goes back to the kernel by itself: jemalloc's
// background thread, src/main.cc.)
int wait_for_stop_signal(const sigset_t& signals) {
  int received = 0;
  while (sigwait(&signals, &received) != 0) {
  }
  return received;
}

}  // namespace
namespace {

// SIGTERM stops a node within two seconds: open calls get until kGrpcShutdownDeadline after
// the signal to finish, and the whole shutdown kShutdownLimit before the process exits
// regardless.
constexpr auto kGrpcShutdownDeadline = std::chrono::milliseconds(1000);
constexpr auto kShutdownLimit = std::chrono::milliseconds(1500);

// Bounded by two of the longest election timeouts: a target that cannot win by then will
// not, and the cluster elects someone by timeout as it would have anyway.
void hand_off_leadership(node::Node& node, const ServerConfig& config) {
  // The members, not --peers: a node that joined (or was re-founded) has none.
  if (!node.is_leader() || node.cluster_view().nodes.size() < 2) return;
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + 4 * config.election_timeout;
  auto outcome = std::make_shared<std::promise<node::TransferOutcome>>();
  auto future = outcome->get_future();
  node.transfer_leadership(raft::kNoNode, deadline, [outcome](node::TransferOutcome o) {
    outcome->set_value(std::move(o));
  });
  if (future.wait_until(deadline + std::chrono::milliseconds(100)) != std::future_status::ready) {
    spdlog::warn("leadership hand-off did not finish; stopping anyway");
    return;
  }
  node::TransferOutcome o = future.get();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started)
                .count();
  if (o.code == node::TransferOutcome::Code::kDone) {
    spdlog::info("handed leadership to node {} (term {}) in {} ms", o.leader, o.term, ms);
  } else {
    spdlog::warn("could not hand leadership on before stopping: {}", o.detail);
  }
}

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
  auto format = common::parse_log_format(config.log_format);
  if (!format) return config_error("--log-format '" + config.log_format + "' is not text or json");
  spdlog::set_level(level);
  common::set_log_format(*format, config.node_id);
  transport::route_grpc_logs_to_spdlog();

  // Signals are taken synchronously by this thread; every thread started below inherits the
  // mask, so none of them is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ServerSecurity security;
  if (Status s = load_server_security(config, &security); !s) return config_error(s.message());
  if (Status s = check_secrets_private(config); !s) return config_error(s.message());
  // What this node presents to its peers: its certificate, or without TLS an operator token.
  transport::set_outgoing_security(
      {security.tls, security.tls.enabled() ? std::string() : security.auth.peer_token()});

  // --restore and --force-new-cluster prepare the data directory first (server/backup.h).
  ServerConfig prepared = config;
  if (Status s = prepare_data_dir(&prepared); !s) return config_error(s.message());
  // Which cluster the data belongs to; a node started with --join asks to be added first.
  node::ServerConfig membership_config = prepared;
  std::string cluster_name;
  std::vector<PeerAddress> seed;
  bool stopped = false;
  if (Status s = prepare_membership(&membership_config, signals, &cluster_name, &seed, &stopped);
      !s) {
    return config_error(s.message());
  }
  if (stopped) return 0;
  NodeHost host(membership_config, cluster_name, seed);
  node::Node& node = host.node();
  ClusterPortAdapter cluster(node, host.worker(), host.internal_client());
  MembershipAdapter membership(node, cluster_name);
  api::Service service(cluster, security.auth);
  service.attach_membership(&membership);
  const api::PeerGate peer_gate(security.tls.enabled(), service.authenticator());
  api::GrpcSchedulerService scheduler(service);
  // Worker-only agents (README "Worker-only agents"): registration, and their jobs' stream.
  api::AgentRegistrar agent_registrar(
      cluster, membership,
      {.worker_timeout_ms = static_cast<uint64_t>(config.worker_timeout.count()),
       .election_timeout_ms = static_cast<uint64_t>(config.election_timeout.count()),
       .kill_grace_ms = static_cast<uint64_t>(config.kill_grace.count()),
       .default_timeout_ms = static_cast<uint64_t>(config.default_timeout.count())});
  api::AgentStreams agent_streams(
      {.read =
           [&node](const std::function<void(const jobs::JobStore&, uint64_t)>& read) {
             node.read_jobs_at(read);
           },
       .is_leader = [&node] { return node.is_leader(); },
       .term = [&node] { return node.cluster_view().term; },
       // An idle agent is heard from through its open stream (it reports rarely).
       .connected =
           [&node](std::vector<uint64_t> agents) { node.agents_connected(std::move(agents)); },
       .connected_every = std::clamp<std::chrono::milliseconds>(
           config.worker_timeout / 4, std::chrono::milliseconds(50), std::chrono::seconds(1))},
      peer_gate);
  api::GrpcInternalService internal(
      service,
      {[&node] { return node.is_leader(); },
       [&node, &agent_streams](nomad_lite::WorkerReport r, api::AckFn ack) {
         const uint64_t sender = r.node_id();
         node.deliver_report(std::move(r), [&agent_streams, sender, ack = std::move(ack)](
                                               const nomad_lite::WorkerReportAck& a) {
           if (a.leader()) agent_streams.acked(sender, a.last_index());
           ack(a);
         });
       },
       [&node](uint64_t id, const std::string& certificate) {
         return node.read_jobs([&](const jobs::JobStore& s) {
           const auto* agent = s.agent(id);
           return agent && agent->certificate() == certificate;
         });
       }},
      peer_gate);
  internal.attach_agents(&agent_registrar, &agent_streams);
  node.add_jobs_listener(
      [&agent_streams](const std::vector<std::string>& ids) { agent_streams.jobs_changed(ids); });
  node.add_leader_listener([&agent_streams](raft::NodeId) { agent_streams.leadership_changed(); });
  node.add_applied_listener([&agent_streams](uint64_t index) { agent_streams.applied(index); });
  transport::RaftServiceImpl raft(
      [&node](raft::Message m) { node.receive(std::move(m)); },
      [&node](raft::NodeId peer) { node.note_contact(peer); },
      [&peer_gate](const grpc::ServerContextBase& context, raft::NodeId* proven) {
        auto caller = peer_gate.admit(context);
        *proven = caller.value;
        return api::to_grpc_status(caller.error);
      });

  std::string listen = config.bind + ":" + std::to_string(config.port);
  int bound_port = 0;
  // grpc.health.v1.Health and server reflection, on the same port, for probes and grpcurl
  // (server/health_status.h; both need no token: api/token_gate.h).
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  auto credentials = transport::server_credentials(security.tls);
  if (security.tls.enabled() && security.auth.enabled()) {
    // Calls without a good token end before their message is read (api/token_gate.h).
    credentials->SetAuthMetadataProcessor(std::make_shared<api::TokenGate>(security.auth));
  }
  builder.AddListeningPort(listen, credentials, &bound_port);
  // gRPC sets SO_REUSEPORT by default, which would let a second server share a busy port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  transport::add_server_connection_arguments(builder);
  builder.SetMaxReceiveMessageSize(static_cast<int>(transport::kMaxNodeMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(transport::kMaxNodeMessageBytes));
  builder.RegisterService(&scheduler);
  builder.RegisterService(&raft);
  builder.RegisterService(&internal);
  {
    // Unary calls are measured by their reactor (transport/grpc_metrics.h).
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<transport::GrpcMetricsFactory>(std::vector<std::string>{
        "/nomad_lite.SchedulerService/StreamJobLogs", "/nomad_lite.InternalService/ReportStream",
        "/nomad_lite.SchedulerService/SaveSnapshot", "/nomad_lite.InternalService/StreamLogs"}));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    return config_error("cannot listen on " + listen +
                        ": the port is in use or the address is not local; pick another --port "
                        "or --bind");
  }
  // Until the node knows a leader, the client API reports NOT_SERVING.
  HealthStatus health(
      [hc = server->GetHealthCheckService()](const std::string& name, bool serving) {
        if (hc) hc->SetServingStatus(name, serving);
      });
  node.add_leader_listener(
      [&health](raft::NodeId leader) { health.leader_known(leader != raft::kNoNode); });
  std::unique_ptr<http::HttpServer> dashboard;
  if (config.dashboard_port != 0) {
    dashboard = std::make_unique<http::HttpServer>(
        service, http::HubOptions{}, http::HttpsFiles{config.tls_cert, config.tls_key});
    if (Status s = dashboard->bind(config.bind, config.dashboard_port); !s) {
      server->Shutdown();
      return config_error(s.message());
    }
    node.add_jobs_listener(
        [d = dashboard.get()](const std::vector<std::string>& ids) { d->jobs_changed(ids); });
  }
  if (Status s = host.start(); !s) {
    server->Shutdown();
    return config_error(s.message());
  }
  // GET /metrics (http/metrics_routes.cc) reports these until the node stops.
  metrics::CollectorHandle process_metrics =
      metrics::add_process_collector(metrics::default_registry());
  metrics::CollectorHandle node_metrics =
      add_node_collector(metrics::default_registry(), node, host.worker());
  spdlog::info(
      "node {} serving gRPC on {} (advertised as {}), data in {}, peers: {}", config.node_id,
      listen, config.advertise_address(), config.effective_data_dir(),
      prepared.peers.empty() ? std::string("none") : [&] {
        std::string out;
        for (const auto& p : prepared.peers) {
          out += (out.empty() ? "" : ", ") + std::to_string(p.id) + "@" + p.address();
        }
        return out;
      }());
  spdlog::info("security: {}, {}",
               security.tls.enabled() ? "TLS (mutual, gRPC and dashboard)" : "no TLS",
               security.auth.enabled() ? "client tokens required" : "no client tokens");
  if (config.insecure) {
    spdlog::warn(
        "INSECURE: listening on {} (--insecure) without {}: anyone who reaches port "
        "{}{} can run shell commands on every node of this cluster",
        config.bind,
        security.tls.enabled()    ? "client tokens"
        : security.auth.enabled() ? "TLS (tokens travel in clear text)"
                                  : "TLS or client tokens",
        config.port, config.dashboard_port ? " or " + std::to_string(config.dashboard_port) : "");
  }
  if (dashboard) dashboard->start();

  int received = wait_for_stop_signal(signals);
  auto signalled = std::chrono::system_clock::now();
  spdlog::info("received {}, shutting down", received == SIGINT ? "SIGINT" : "SIGTERM");
  // A stop signal ends the process within kShutdownLimit, whatever holds the steps below up.
  ShutdownWatchdog watchdog(kShutdownLimit);
  // A leader hands leadership on first, so the cluster elects no one by timeout: a rolling
  // restart then costs a round trip per node, not an election timeout.
  watchdog.step("handing leadership on");
  hand_off_leadership(host.node(), config);
  health.shutdown();  // probes see NOT_SERVING while the node goes
  watchdog.step("stopping the dashboard");
  service.stop();                    // ends the waits for a job's first output
  if (dashboard) dashboard->stop();  // ends event streams and followed output first
  watchdog.step("closing Raft and report streams");
  raft.stop();      // peers' streams into this node would hold Shutdown up
  internal.stop();  // and so would workers' report streams
  // gRPC cancels the calls still open at this deadline, then waits for their handlers. It
  // counts from the signal: the steps above take part of it (an idle client connection alone
  // holds Shutdown up to the deadline).
  watchdog.step("gRPC server shutdown (calls still open)");
  server->Shutdown(signalled + kGrpcShutdownDeadline);
  watchdog.step("stopping the node (Raft loop, worker, WAL)");
  node_metrics.reset();
  host.stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace nomad::server
