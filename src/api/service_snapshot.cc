// `operator snapshot save`: the leader's applied state, as one file. Only the leader answers,
// so that a snapshot never misses what a client was told is committed before the save began.

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
  if (Status s = port_.save_backup(&out.value); !s) {
    out.error = {Code::kInternal, "cannot take a snapshot: " + s.message(), 0, {}};
    out.value.clear();
  }
  return out;
}

}  // namespace nomad::api
