#pragma once

// The leader's end of InternalService.AgentStream: for each worker-only agent, one long-lived
// stream of the jobs with an attempt on it (the agent holds no Raft state; this is its view of
// the applied job store).
//
// On open the stream gets every such job (full = true), then each job again whenever an
// applied entry changed it. Changes come from the node's apply path (jobs_changed, on the loop
// thread, which only notes the ids); one thread reads the store for them, in batches, and
// posts the updates. While a write is in flight, later updates of a stream merge into one.
// Each update carries the leader's applied index the jobs reflect: the agent's worker starts
// an attempt only once an ack's index is that far (worker/lease.h), so when an agent's report
// is acked past what its stream has shown (acked), the stream gets an update with the
// applied index alone once the leader applied that far (applied, from the apply path: the
// thread sleeps until a job changes or an index an ack waits for is applied). Streams end
// when this node stops leading (the agent then finds the new leader) and when the server stops.
//
// An open stream is also how the leader knows an idle agent is alive: every `connected_every`
// the thread hands the node the agents whose streams are open (Source::connected), so an idle
// agent need not report to stay placeable. A stream whose agent vanished ends by itself: the
// agent's process closes it when it dies, and gRPC's keepalive closes a mute connection.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/peer_gate.h"
#include "jobs/job_store.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::api {

// An update larger than this is split: the first part is the full one, the rest follow.
inline constexpr size_t kMaxAgentUpdateBytes = 4 << 20;

// The jobs with an attempt on `agent` in `store`, as the agent's copy needs them (without the
// replicated output tails).
nomad_lite::Job job_for_agent(const nomad_lite::Job& job);

class AgentStreams {
 public:
  struct Source {
    // Runs `read` with the applied job store and the index of the last entry applied to it.
    std::function<void(const std::function<void(const jobs::JobStore&, uint64_t)>&)> read;
    std::function<bool()> is_leader;
    std::function<uint64_t()> term;
    // The agents whose streams are open, every `connected_every` while any is (unset: never).
    std::function<void(std::vector<uint64_t>)> connected;
    std::chrono::milliseconds connected_every{1000};
  };
  // While streams are open, whether this node still leads is checked at least every
  // `leader_recheck` (the leader listener may run before the node publishes its new role).
  AgentStreams(Source source, const PeerGate& gate,
               std::chrono::milliseconds leader_recheck = std::chrono::milliseconds(200));
  ~AgentStreams();

  // Node loop thread: ids of jobs changed by applied entries (cheap: noted for the thread).
  void jobs_changed(const std::vector<std::string>& ids);
  // Node loop thread: entries up to `index` are applied (whether or not they changed a job).
  // Wakes the thread only when an ack waits for an index this far.
  void applied(uint64_t index);
  // Node loop thread: this node stopped leading, or leads again.
  void leadership_changed();
  // Node loop thread: agent `agent`'s report was acked with this last index.
  void acked(uint64_t agent, uint64_t last_index);

  grpc::ServerWriteReactor<grpc::ByteBuffer>* open(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request);
  // Ends every stream and refuses new ones (before the server's Shutdown).
  void stop();

  size_t open_streams() const;

 private:
  class Stream;
  class Reactor;

  void run();
  // Under the store's read lock: the updates for the changed jobs and the full updates of the
  // new streams, into *out (posted once the lock is released).
  void collect(const jobs::JobStore& store, uint64_t applied, std::vector<std::string>& changed,
               std::vector<std::shared_ptr<Stream>>& fresh,
               std::vector<std::pair<std::shared_ptr<Stream>, nomad_lite::AgentUpdate>>* out);
  void end_all(const grpc::Status& status);
  // Calls Source::connected when it is due.
  void tell_connected();
  void closed(const std::shared_ptr<Stream>& stream);

  Source source_;
  const PeerGate& gate_;
  const std::chrono::milliseconds leader_recheck_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> changed_;                     // not yet looked at
  std::vector<std::shared_ptr<Stream>> fresh_;           // opened, no full update yet
  std::map<uint64_t, std::shared_ptr<Stream>> streams_;  // by agent
  std::map<uint64_t, uint64_t> wanted_index_;            // agent -> index its ack named
  bool wanted_check_ = false;  // an ack came, or an index of wanted_index_ is applied: look
  bool leadership_checked_ = true;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point next_connected_{};  // the thread's own
  std::thread thread_;

  // The thread's own: which agents each job had attempts on (jobs of agents only).
  std::unordered_map<std::string, std::vector<uint64_t>> job_agents_;
  std::map<uint64_t, std::set<std::string>> agent_jobs_;
};

}  // namespace nomad::api
