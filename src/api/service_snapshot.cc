// `operator snapshot save`: the leader's applied state, as one file. Only the leader answers,
// and only once it has confirmed that it still leads, so that a snapshot never misses what a
// client was told is committed before the save began.

#include <chrono>
#include <future>
#include <memory>

#include "api/service.h"

namespace nomad::api {

Outcome<std::string> Service::save_snapshot() const {
  Outcome<std::string> out;
  if (!port_.is_leader()) {
    ClusterState v = port_.cluster_state();
    if (v.leader_id == 0 || v.leader_address.empty()) {
      out.error = {Code::kUnavailable, "no leader is elected yet; retry shortly", 0, {}};
    } else {
      out.error = {Code::kNotLeader,
                   "snapshots are taken on the leader; the leader is node " +
                       std::to_string(v.leader_id) + " at " + v.leader_address,
                   v.leader_id, v.leader_address};
    }
    return out;
  }
  // A leader cut off in a minority believes it leads until its check-quorum notices, while a
  // successor may already acknowledge writes. ReadIndex settles it: a heartbeat round answered
  // by a majority, and the commit index as of then, which this node applies before answering.
  auto confirmed = std::make_shared<std::promise<std::pair<Status, uint64_t>>>();
  auto answer = confirmed->get_future();
  port_.read_barrier(0, /*linearizable=*/true,
                     std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadWaitMs),
                     [confirmed](Status s, uint64_t applied) {
                       confirmed->set_value({std::move(s), applied});
                     });
  auto [status, applied] = answer.get();  // bounded: the barrier fails after kReadWaitMs
  if (!status) {
    out.error = {Code::kUnavailable,
                 "this node cannot confirm that it still leads a majority, so a snapshot of its "
                 "state could miss acknowledged writes (" +
                     status.message() + "); retry, or save through another node",
                 0,
                 {}};
    return out;
  }
  if (Status s = port_.save_backup(applied, &out.value); !s) {
    out.error = {Code::kInternal, "cannot take a snapshot: " + s.message(), 0, {}};
    out.value.clear();
  }
  return out;
}

}  // namespace nomad::api
