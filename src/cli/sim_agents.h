#pragma once

// Simulated agents for `bench agents`: many worker-only agents in one process, each speaking
// the agent protocol of a real `nomad-lite agent` (proto/nomad_lite.proto, InternalService):
// RegisterAgent for an id, then one AgentStream (the leader's view of its jobs) and one
// ReportStream (its reports; the leader's acks) to the leader, a report every heartbeat with
// its slots and capacity, and at once when an update places an attempt on it. Such an attempt
// is reported finished (exit 0) in the same breath as started; nothing is spawned.
//
// Cheap per agent: every stream is a gRPC callback reactor, so the fleet's threads are gRPC's
// own plus one heartbeat thread (which also reopens the streams of agents whose leader went
// away). Each agent has a connection of its own by default, as real agents do.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proto/nomad_lite.grpc.pb.h"

namespace nomad::cli {

struct FleetOptions {
  int agents = 1000;
  uint32_t slots = 8;                 // each agent's, as --slots
  nomad_lite::NodeCapacity capacity;  // each agent's; its name gets the agent's number appended
  std::chrono::milliseconds heartbeat{500};
  // The report interval while the agent owes the leader nothing (a real agent's: 30 s; its
  // open AgentStream shows the leader it is there); no longer than `heartbeat` makes every
  // report `heartbeat` apart.
  std::chrono::milliseconds idle_heartbeat{30000};
  int connections = 0;         // 0: one per agent; else shared round-robin
  int register_parallel = 32;  // RegisterAgent calls in flight
};

// Told of each job of the run as the agents see it: placed on an agent (the first time), and
// final. Called on gRPC threads, concurrently.
struct FleetObserver {
  std::function<void(const nomad_lite::Job&)> placed;
  std::function<void(const nomad_lite::Job&)> finished;
};

struct FleetCounters {
  uint64_t reports = 0;          // reports written
  uint64_t acks = 0;             // acks read
  uint64_t updates = 0;          // AgentUpdates read
  uint64_t stream_restarts = 0;  // streams reopened after they ended
  std::string first_stream_end;  // why the first stream that ended before stop() ended
};

class AgentFleet {
 public:
  AgentFleet(FleetOptions options, std::vector<std::string> servers, FleetObserver observer);
  ~AgentFleet();  // stop()

  // Registers every agent, a few at a time, each at the first server that answers (a
  // follower forwards to the leader). Returns how many got an id; the first failure's
  // description goes to *first_error. Gives up on an agent at `deadline`.
  int register_all(std::chrono::steady_clock::time_point deadline, std::string* first_error);

  // Opens every registered agent's streams to the leader and starts the heartbeats.
  void start();
  // Agents whose streams are both up (a first update and a first ack seen on them).
  int connected() const;
  // The leader's address as the agents know it.
  std::string leader() const;
  FleetCounters counters() const;
  // Ends every stream and waits (a few seconds at most) for them to close.
  void stop();

 private:
  class Agent;
  friend class Agent;
  std::shared_ptr<grpc::Channel> channel(const std::string& address, int agent_index);
  void heartbeats();
  // Asks the servers who leads (at most every 500 ms); the agents reconnect there.
  void refresh_leader(std::chrono::steady_clock::time_point now);
  void set_leader(const std::string& address);
  void stream_done(const grpc::Status& status);

  const FleetOptions options_;
  const std::vector<std::string> servers_;
  const FleetObserver observer_;
  std::vector<std::unique_ptr<Agent>> agents_;

  mutable std::mutex mu_;
  std::string leader_;
  std::map<std::pair<std::string, int>, std::shared_ptr<grpc::Channel>> channels_;
  std::chrono::steady_clock::time_point leader_asked_{};
  std::string first_stream_end_;
  int live_streams_ = 0;  // reactors not yet done
  std::condition_variable streams_cv_;

  std::atomic<bool> stopping_{false};
  std::thread heartbeat_thread_;
  std::atomic<uint64_t> reports_{0}, acks_{0}, updates_{0}, restarts_{0};
  std::atomic<int> connected_{0};
  std::atomic<int> waiting_reopen_{0};  // agents whose streams both ended
};

}  // namespace nomad::cli
