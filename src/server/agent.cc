// `nomad-lite agent`: a worker-only member of a cluster (README "Worker-only agents"). It holds
// no Raft state and never votes: it registers with the servers (InternalService.RegisterAgent),
// keeps a copy of its jobs from the leader's AgentStream (server/agent_mirror.h), runs them
// with the same worker as a server (worker/worker.h), reports on the same ReportStream, and
// serves its jobs' output on --listen (server/agent_log_service.h).

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "api/auth.h"
#include "api/peer_gate.h"
#include "api/service.h"
#include "common/log.h"
#include "common/random_id.h"
#include "common/thread_name.h"
#include "proto/nomad_lite.grpc.pb.h"
#include "server/agent_config.h"
#include "server/agent_identity.h"
#include "server/agent_log_service.h"
#include "server/agent_mirror.h"
#include "tls/identity.h"
#include "transport/channel_args.h"
#include "transport/grpc_logging.h"
#include "transport/internal_client.h"
#include "transport/internal_stubs.h"
#include "transport/security.h"
#include "worker/worker.h"

namespace nomad::server {
namespace {

constexpr auto kAgentRegisterTimeout = std::chrono::seconds(5);
constexpr auto kAgentFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kAgentMaxBackoff = std::chrono::seconds(2);
// Reports that fail in a row before the agent looks for the leader again (its stream to a
// leader that vanished may not have ended yet).
constexpr int kFailedReportsBeforeSearch = 4;
// How often an idle agent reports. The leader hears from it through its open AgentStream
// (api/agent_streams.h) meanwhile; the report only refreshes what the leader knows of it.
// An assignment to an idle agent makes it report at once for a lease (worker/lease.h).
constexpr auto kIdleReportInterval = std::chrono::seconds(30);

int agent_config_error(const std::string& message) {
  std::fprintf(stderr, "nomad-lite agent: %s\n", message.c_str());
  return 2;
}

// The TLS material and tokens of an agent, checked as a server's are.
Status load_agent_security(const AgentConfig& c, transport::TlsMaterial* tls,
                           api::Authenticator* auth) {
  if (!c.tls_ca.empty()) {
    if (Status s = tls::read_pem_file(c.tls_ca, "--tls-ca", &tls->ca_pem); !s) return s;
    if (Status s = tls::read_pem_file(c.tls_cert, "--tls-cert", &tls->cert_pem); !s) return s;
    if (Status s = tls::read_pem_file(c.tls_key, "--tls-key", &tls->key_pem); !s) return s;
    if (Status s = tls::check_key_matches_certificate(
            tls->cert_pem, tls->key_pem, "--tls-cert " + c.tls_cert, "--tls-key " + c.tls_key);
        !s) {
      return s;
    }
    if (Status s = tls::check_certificate_chains_to(
            tls->cert_pem, tls->ca_pem, "--tls-cert " + c.tls_cert, "--tls-ca " + c.tls_ca);
        !s) {
      return s;
    }
    if (tls::identity_of_certificate(tls->cert_pem).kind != tls::CertIdentity::Kind::kAgent) {
      return Status::error("--tls-cert " + c.tls_cert +
                           " is not an agent's certificate (urn:nomad-lite:agent:<k>): servers "
                           "would refuse it; make agent certificates with nomad-lite tls init "
                           "DIR --agents N and use agent-K.pem");
    }
  }
  if (!c.token_file.empty()) {
    if (Status s = api::Authenticator::load(c.token_file, auth); !s) return s;
    if (tls->ca_pem.empty() && auth->peer_token().empty()) {
      return Status::error("--token-file " + c.token_file +
                           ": without TLS an agent calls the servers with an operator token, "
                           "and this file has none; use the servers' token file");
    }
  }
  return Status::ok();
}

class Agent {
 public:
  Agent(const AgentConfig& config, nomad_lite::NodeCapacity capacity, uint32_t slots)
      : config_(config), capacity_(std::move(capacity)), slots_(slots) {
    servers_ = config.servers;
  }

  // Registers (retrying until registered, stopped, or refused for good). False: refused, with
  // the reason in *error.
  bool register_agent(std::string* error);
  void start_worker();
  void run_stream();  // the stream thread: until stop()
  void stop();

  uint64_t id() const { return id_; }
  const std::string& cluster() const { return cluster_; }
  void set_identity(const AgentIdentity& identity) {
    id_ = identity.id;
    cluster_ = identity.cluster;
  }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stopping_;
  }
  // After stop() and the stream thread's end: kills what still runs (the leader sees those
  // attempts lost) and stops reporting.
  void stop_worker() {
    if (worker_) worker_->stop();
  }
  worker::Worker* worker() { return worker_.get(); }
  void set_address(std::string address) { address_ = std::move(address); }

 private:
  nomad_lite::InternalService::Stub& stub(const std::string& address) {
    return *stubs_.at(address).stub;
  }
  // One registration at `address`: OK, or gRPC's status.
  grpc::Status register_at(const std::string& address, nomad_lite::RegisterAgentResponse* out);
  bool send_report(const nomad_lite::WorkerReport& report);
  // Sleeps about `backoff` (or until stop()), then doubles it up to kAgentMaxBackoff. False:
  // stopped.
  bool wait_backoff(std::chrono::milliseconds* backoff);
  // Sleeps `delay` or until stop(). False: stopped.
  bool wait_quietly(std::chrono::milliseconds delay);
  std::string leader() {
    std::lock_guard lock(mu_);
    return leader_;
  }
  // Ends the open AgentStream: the stream thread then registers again to find the leader.
  void search_leader();

  const AgentConfig& config_;
  const nomad_lite::NodeCapacity capacity_;
  const uint32_t slots_;
  std::string address_;
  uint64_t id_ = 0;
  std::string cluster_;
  nomad_lite::RegisterAgentResponse settings_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::string> servers_;
  size_t next_server_ = 0;
  std::string leader_;
  grpc::ClientContext* stream_context_ = nullptr;  // the open AgentStream's
  transport::InternalStubs stubs_{transport::InternalStubs::Kind::kAgent};

  transport::InternalClient internal_{transport::InternalClient::Role::kAgent};
  std::unique_ptr<worker::Worker> worker_;
  AgentMirror mirror_;  // the stream thread's
  std::atomic<int> failed_reports_{0};
  bool announced_ = false;  // the first registration of this process was logged
};

grpc::Status Agent::register_at(const std::string& address,
                                nomad_lite::RegisterAgentResponse* out) {
  nomad_lite::RegisterAgentRequest request;
  request.set_id(id_);
  request.set_cluster(cluster_);
  request.set_name(capacity_.name());
  request.set_address(address_);
  request.set_slots(slots_);
  *request.mutable_capacity() = capacity_;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kAgentRegisterTimeout);
  transport::add_call_credentials(&context);
  return stub(address).RegisterAgent(&context, request, out);
}

bool Agent::wait_quietly(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, delay, [this] { return stopping_; });
  return !stopping_;
}

bool Agent::wait_backoff(std::chrono::milliseconds* backoff) {
  // Half the backoff, plus a random share of the other half: agents that failed together
  // retry apart.
  const auto delay = *backoff / 2 + common::random_delay(*backoff / 2);
  *backoff = std::min<std::chrono::milliseconds>(*backoff * 2, kAgentMaxBackoff);
  return wait_quietly(delay);
}

bool Agent::register_agent(std::string* error) {
  auto backoff = std::chrono::milliseconds(kAgentFirstBackoff);
  while (true) {
    std::string address;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return true;
      address = servers_[next_server_++ % servers_.size()];
    }
    nomad_lite::RegisterAgentResponse response;
    grpc::Status s = register_at(address, &response);
    if (s.ok() && !response.leader_address().empty()) {
      const bool first = !announced_;
      announced_ = true;
      id_ = response.id();
      cluster_ = response.cluster();
      settings_ = response;
      std::lock_guard lock(mu_);
      leader_ = response.leader_address();
      // The servers as they are now (members come and go), after those given on the command
      // line.
      for (const auto& server : response.servers()) {
        if (std::find(servers_.begin(), servers_.end(), server) == servers_.end()) {
          servers_.push_back(server);
        }
      }
      if (first) spdlog::info("registered as agent {} of cluster {}", id_, cluster_);
      return true;
    }
    switch (s.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::FAILED_PRECONDITION:
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::UNAUTHENTICATED:
        *error = "registration refused by " + address + ": " + s.error_message();
        return false;
      default:
        spdlog::debug("registration at {} failed: {}; trying the next server", address,
                      s.ok() ? std::string("no leader known") : s.error_message());
    }
    if (!wait_backoff(&backoff)) return true;
  }
}

bool Agent::send_report(const nomad_lite::WorkerReport& report) {
  const std::string to = leader();
  if (to.empty()) return false;
  nomad_lite::WorkerReport with_capacity = report;
  *with_capacity.mutable_capacity() = capacity_;
  const auto connect_wait = std::clamp<std::chrono::milliseconds>(
      worker_->options().lease_span / 8, std::chrono::milliseconds(100), std::chrono::seconds(1));
  bool sent = internal_.stream_report(to, with_capacity, connect_wait);
  if (sent) {
    failed_reports_ = 0;
  } else if (++failed_reports_ >= kFailedReportsBeforeSearch) {
    failed_reports_ = 0;
    search_leader();
  }
  return sent;
}

void Agent::search_leader() {
  std::lock_guard lock(mu_);
  if (stream_context_) stream_context_->TryCancel();
}

void Agent::start_worker() {
  worker::WorkerOptions wo;
  wo.node_id = id_;
  wo.slots = slots_;
  wo.default_timeout = std::chrono::milliseconds(settings_.default_timeout_ms());
  wo.lease_span = worker::lease_span(std::chrono::milliseconds(settings_.worker_timeout_ms()),
                                     std::chrono::milliseconds(settings_.election_timeout_ms()));
  wo.report_interval = std::min(wo.report_interval, wo.lease_span / 4);
  // Idle, an agent reports rarely: a thousand agents' reports were most of what they cost
  // the leader, and its open stream shows the leader it is there.
  wo.idle_report_interval =
      std::max<std::chrono::milliseconds>(wo.report_interval, kIdleReportInterval);
  wo.executor.root = std::filesystem::path(config_.data_dir) / "jobs";
  wo.executor.isolation = config_.executor;
  wo.executor.kill_grace = std::chrono::milliseconds(settings_.kill_grace_ms());
  wo.executor.output_cap = config_.output_cap;
  wo.executor.job_user = config_.job_user;
  worker_ = std::make_unique<worker::Worker>(
      wo, [this](const nomad_lite::WorkerReport& r) { return send_report(r); });
  internal_.set_report_ack_handler(
      [this](const nomad_lite::WorkerReportAck& ack) { worker_->on_ack(ack); });
  worker_->start();
}

void Agent::run_stream() {
  common::name_this_thread("agent-stream");
  auto backoff = std::chrono::milliseconds(kAgentFirstBackoff);
  while (true) {
    const std::string to = leader();
    grpc::ClientContext context;
    transport::add_call_credentials(&context);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stream_context_ = &context;
    }
    nomad_lite::AgentStreamRequest request;
    request.set_agent_id(id_);
    auto reader = stub(to).AgentStream(&context, request);
    nomad_lite::AgentUpdate update;
    bool any = false;
    while (reader->Read(&update)) {
      if (!any) {
        spdlog::info("following the leader at {} ({} jobs placed here)", to, update.jobs_size());
        any = true;
        backoff = kAgentFirstBackoff;
        worker_->report_now();  // the new leader's ack renews the lease
      }
      std::vector<std::string> changed = mirror_.apply(update);
      std::sort(changed.begin(), changed.end());
      changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
      worker_->on_applied(mirror_.store(), changed, mirror_.applied_index());
    }
    grpc::Status s = reader->Finish();
    {
      std::lock_guard lock(mu_);
      stream_context_ = nullptr;
      if (stopping_) return;
    }
    spdlog::info("the stream from {} ended ({}); looking for the leader", to,
                 s.ok() ? std::string("closed") : s.error_message());
    internal_.interrupt_report_stream();
    if (any && !wait_quietly(common::random_delay(transport::kAgentRejoinSpread))) return;
    if (!any && !wait_backoff(&backoff)) return;
    std::string error;
    if (!register_agent(&error)) {
      // Refused now (the cluster forgot this agent?): keep running what runs, and keep asking.
      spdlog::error("{}", error);
      if (!wait_backoff(&backoff)) return;
    }
  }
}

void Agent::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (stream_context_) stream_context_->TryCancel();
  }
  cv_.notify_all();
  internal_.interrupt_report_stream();
}

int wait_for_agent_signal(const sigset_t& signals) {
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

}  // namespace

int run_agent(const AgentConfig& config) {
  auto level = spdlog::level::from_str(config.log_level);
  spdlog::set_level(level);
  if (auto format = common::parse_log_format(config.log_format)) {
    common::set_log_format(*format, 0);
  }
  transport::route_grpc_logs_to_spdlog();

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  transport::TlsMaterial tls;
  api::Authenticator auth;
  if (Status s = load_agent_security(config, &tls, &auth); !s)
    return agent_config_error(s.message());
  transport::set_outgoing_security({tls, tls.enabled() ? std::string() : auth.peer_token()});

  nomad_lite::NodeCapacity capacity;
  if (Status s = worker::capacity_from_flags(config.capacity, &capacity); !s) {
    return agent_config_error(s.message());
  }
  const uint32_t slots = config.slots < 0 ? std::max(1u, std::thread::hardware_concurrency())
                                          : static_cast<uint32_t>(config.slots);
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return agent_config_error("--data-dir " + config.data_dir +
                              ": cannot create it: " + ec.message());
  }
  std::optional<AgentIdentity> identity;
  if (Status s = load_agent_identity(config.data_dir, &identity); !s) {
    return agent_config_error(s.message());
  }

  // The output service first: the address it listens at is registered.
  AgentOutputPort output_port;
  api::Service output_service(output_port, auth);
  const api::PeerGate gate(tls.enabled(), output_service.authenticator());
  AgentLogService log_service(output_service, gate);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(config.listen, transport::server_credentials(tls), &bound_port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  transport::add_server_connection_arguments(builder);
  builder.SetMaxSendMessageSize(static_cast<int>(transport::kMaxNodeMessageBytes));
  builder.RegisterService(&log_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    return agent_config_error("--listen " + config.listen +
                              ": cannot listen there (in use, or not an address of this machine)");
  }
  std::string address = config.advertise;
  if (address.empty()) {
    address = config.listen.substr(0, config.listen.rfind(':')) + ":" + std::to_string(bound_port);
  }

  Agent agent(config, capacity, slots);
  agent.set_address(address);
  if (identity) agent.set_identity(*identity);
  spdlog::info("agent serving its jobs' output at {} (listening on {}), data in {}", address,
               config.listen, config.data_dir);
  // Registration retries until a server answers; a signal meanwhile stops the agent.
  std::atomic<bool> registering{true};
  std::thread stopper([&] {
    const timespec every{0, 100'000'000};
    while (registering) {
      if (sigtimedwait(&signals, nullptr, &every) > 0) {
        agent.stop();
        return;
      }
    }
  });
  std::string error;
  const bool registered = agent.register_agent(&error);
  registering = false;
  stopper.join();
  if (!registered) {
    server->Shutdown();
    return agent_config_error(error);
  }
  if (agent.stopped()) {
    server->Shutdown();
    return 0;
  }
  if (!identity || identity->id != agent.id() || identity->cluster != agent.cluster()) {
    if (Status s = save_agent_identity(config.data_dir, {agent.id(), agent.cluster()}); !s) {
      server->Shutdown();
      return agent_config_error(s.message());
    }
  }
  common::set_log_format(
      common::parse_log_format(config.log_format).value_or(common::LogFormat::kText), agent.id());
  agent.start_worker();
  output_port.set_worker(agent.worker());
  std::thread stream([&agent] { agent.run_stream(); });

  int received = wait_for_agent_signal(signals);
  spdlog::info("received {}, stopping the agent", received == SIGINT ? "SIGINT" : "SIGTERM");
  agent.stop();
  stream.join();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  agent.stop_worker();
  spdlog::info("stopped");
  return 0;
}

}  // namespace nomad::server
