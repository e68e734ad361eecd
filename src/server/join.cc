#include "server/join.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include "proto/nomad_lite.grpc.pb.h"
#include "server/cluster_identity.h"
#include "transport/channel_args.h"
#include "transport/security.h"

namespace nomad::server {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(200);
constexpr auto kLongestBackoff = std::chrono::milliseconds(5000);
constexpr auto kCallTimeout = std::chrono::seconds(10);

// Waits up to `d` for a stop signal: true when one came.
bool stop_signal_within(const sigset_t& signals, std::chrono::milliseconds d) {
  timespec wait{static_cast<time_t>(d.count() / 1000),
                static_cast<long>(d.count() % 1000) * 1000000};
  while (true) {
    int received = sigtimedwait(&signals, nullptr, &wait);
    if (received > 0) return true;
    if (errno == EAGAIN) return false;  // timed out; EINTR: another signal, wait again
  }
}

// Refusals that asking again, here or elsewhere, cannot change.
bool permanent(grpc::StatusCode code) {
  return code == grpc::StatusCode::ALREADY_EXISTS || code == grpc::StatusCode::INVALID_ARGUMENT ||
         code == grpc::StatusCode::PERMISSION_DENIED || code == grpc::StatusCode::UNAUTHENTICATED ||
         code == grpc::StatusCode::UNIMPLEMENTED;
}

}  // namespace

bool peer_from_address(uint64_t id, const std::string& address, PeerAddress* out) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  std::string port = address.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) return false;
  unsigned long n = std::stoul(port);
  if (n == 0 || n > 65535) return false;
  out->id = id;
  out->host = address.substr(0, colon);
  out->port = static_cast<uint16_t>(n);
  return true;
}

Status ask_to_join(const node::ServerConfig& config, const sigset_t& signals, JoinAnswer* out,
                   bool* stopped) {
  *stopped = false;
  nomad_lite::JoinRequest request;
  request.set_id(config.node_id);
  request.set_address(config.advertise_address());
  std::vector<std::unique_ptr<nomad_lite::InternalService::Stub>> stubs;
  for (const auto& address : config.join) {
    stubs.push_back(nomad_lite::InternalService::NewStub(grpc::CreateCustomChannel(
        address, transport::channel_credentials(), transport::node_channel_arguments())));
  }
  auto backoff = kFirstBackoff;
  for (int round = 1;; ++round) {
    std::string last_error;
    for (size_t i = 0; i < stubs.size(); ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
      transport::add_call_credentials(&context);
      nomad_lite::JoinResponse response;
      grpc::Status s = stubs[i]->Join(&context, request, &response);
      if (s.ok()) {
        out->cluster = response.cluster();
        out->leader_id = response.leader_id();
        for (const auto& m : response.members()) {
          PeerAddress p;
          if (m.id() != config.node_id && peer_from_address(m.id(), m.address(), &p)) {
            out->members.push_back(p);
          }
        }
        spdlog::info(
            "node {}: {} the cluster '{}' through {} (leader: node {}); catching up as a learner",
            config.node_id, response.already_member() ? "already a member of" : "joined",
            response.cluster(), config.join[i], response.leader_id());
        return Status::ok();
      }
      if (permanent(s.error_code())) {
        return Status::error("--join: " + config.join[i] + " refused to add node " +
                             std::to_string(config.node_id) + ": " + s.error_message());
      }
      last_error = config.join[i] + ": " + s.error_message();
    }
    spdlog::warn(
        "node {}: no member of the cluster admitted it yet (round {}; {}); retrying in {} ms",
        config.node_id, round, last_error, backoff.count());
    if (stop_signal_within(signals, backoff)) {
      *stopped = true;
      return Status::ok();
    }
    backoff = std::min(backoff * 2, kLongestBackoff);
  }
}

Status prepare_membership(node::ServerConfig* config, const sigset_t& signals, std::string* cluster,
                          std::vector<PeerAddress>* seed, bool* stopped) {
  *stopped = false;
  const std::string dir = config->effective_data_dir();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::error("cannot create data directory " + dir + ": " + ec.message());
  std::optional<ClusterIdentity> stored;
  if (Status s = load_cluster_identity(dir, &stored); !s) return s;
  if (stored) {
    *cluster = stored->cluster;
    if (!config->join.empty()) {
      spdlog::info("node {}: already a member of cluster '{}' (stored in {}); --join is not needed",
                   config->node_id, stored->cluster, dir);
    }
    if (stored->joined) {
      if (!config->peers.empty()) {
        spdlog::warn(
            "node {}: --peers ignored: this node joined cluster '{}' and uses the "
            "membership stored in {}",
            config->node_id, stored->cluster, dir);
      }
      config->peers.clear();
      config->joined = true;
      return Status::ok();
    }
    if (!config->peers.empty() &&
        bootstrap_cluster_name(config->node_id, config->peers) != stored->cluster) {
      spdlog::warn(
          "node {}: --peers ignored in favour of the membership stored in {} (cluster "
          "'{}'); membership changes go through cluster add-server / remove-server",
          config->node_id, dir, stored->cluster);
    }
    config->peers = stored->bootstrap;
    return Status::ok();
  }
  ClusterIdentity identity;
  if (!config->join.empty()) {
    if (holds_state(dir)) {
      return Status::error("--join: the data directory " + dir +
                           " already holds a Raft log or snapshot of a cluster; a joining node "
                           "starts with an empty --data-dir");
    }
    JoinAnswer answer;
    if (Status s = ask_to_join(*config, signals, &answer, stopped); !s || *stopped) return s;
    identity.cluster = answer.cluster;
    identity.joined = true;
    *seed = answer.members;
    config->joined = true;
  } else {
    // A new cluster from --peers, or a data directory from before identities were stored:
    // named from its bootstrap voters as it always was.
    identity.cluster = bootstrap_cluster_name(config->node_id, config->peers);
    identity.bootstrap = config->peers;
  }
  *cluster = identity.cluster;
  return save_cluster_identity(dir, identity);
}

}  // namespace nomad::server
