#pragma once

// Everything `nomad-lite server` is configured with. The CLI fills it from flags;
// server::run_server validates what flags alone cannot (ports in use, an unusable data
// directory). The node reads its own part (ids, peers, timings, limits).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/isolation.h"
#include "common/peers.h"
#include "jobs/placement_policy.h"

namespace nomad::node {

struct ServerConfig {
  uint64_t node_id = 1;
  std::string bind = "127.0.0.1";  // address the gRPC and dashboard ports listen on
  bool insecure = false;           // listening beyond loopback without TLS or tokens was asked for
  std::string tls_cert, tls_key, tls_ca;  // PEM files; all three or none (see transport/security.h)
  std::string token_file;       // client tokens and their roles (see api/auth.h); "" for none
  uint16_t port = 50051;        // gRPC: client API and peer traffic
  uint16_t dashboard_port = 0;  // 0: no dashboard / REST API
  std::string advertise;        // host:port peers and clients reach this node at; default bind:port
  std::vector<PeerAddress> peers;  // every other voter
  std::vector<std::string> join;   // --join: members ("host:port") to ask for admission
  // The node joined a running cluster (now or at an earlier start): it has no bootstrap
  // membership and learns it from the leader's log (server/cluster_identity.h).
  bool joined = false;
  std::string data_dir;                             // default ./data/node-<id>
  std::chrono::milliseconds election_timeout{150};  // minimum; randomized up to twice that
  std::chrono::milliseconds heartbeat_interval{50};
  std::chrono::milliseconds tick{10};
  std::string log_level = "info";
  std::string log_format = "text";                 // text or json (common/log.h)
  int worker_slots = -1;                           // -1: number of cores; 0: this node runs no jobs
  std::chrono::milliseconds worker_timeout{5000};  // silent this long: its attempts are lost
  std::chrono::milliseconds kill_grace{5000};      // SIGTERM, then SIGKILL after this
  std::chrono::milliseconds default_timeout{0};    // for jobs without --timeout; 0: none
  common::Isolation executor = common::Isolation::kRaw;  // raw or sandbox (bubblewrap)
  std::string job_user;  // jobs run as this user (the server must be root); "": the server's user
  uint64_t output_cap = 10 << 20;  // bytes of stdout (and of stderr) kept per attempt
  uint64_t retain_jobs = 100'000;  // finished jobs kept
  std::chrono::milliseconds retain_for{7LL * 24 * 3600 * 1000};
  // An agent the leader has not heard from this long, with nothing running on it, is
  // forgotten (jobs AgentForgotten); 0: never.
  std::chrono::milliseconds forget_agents_after{24LL * 3600 * 1000};
  uint64_t snapshot_entries = 10000;     // take a snapshot after this many applied entries
  size_t max_pending_proposals = 50000;  // beyond this, submissions get RESOURCE_EXHAUSTED
  bool fsync = true;
  std::string restore_file;        // --restore: seed an empty data directory from this snapshot
  bool force_new_cluster = false;  // keep this node's committed state, start it alone
  // What this node's worker offers jobs (worker/capacity.h): "" takes the machine's cores,
  // memory and host name.
  std::string cpu;
  std::string memory;
  std::vector<std::string> labels;  // key=value
  std::string node_name;
  jobs::PlacementPolicy placement = jobs::PlacementPolicy::kSpread;  // the leader's rule

  std::string advertise_address() const {
    return advertise.empty() ? bind + ":" + std::to_string(port) : advertise;
  }
  std::string effective_data_dir() const {
    return data_dir.empty() ? "./data/node-" + std::to_string(node_id) : data_dir;
  }
};

}  // namespace nomad::node
