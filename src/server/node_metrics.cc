#include "server/node_metrics.h"

#include <algorithm>

#include "common/build_info.h"
#include "jobs/job_store.h"

namespace nomad::server {

namespace {

using metrics::CollectedFamily;
using metrics::Type;

CollectedFamily one(const char* name, const char* help, Type type, double value) {
  return {name, help, type, {{{}, value}}};
}

void collect_raft(const node::ClusterView& v, std::vector<CollectedFamily>& out) {
  out.push_back(one("nomad_lite_raft_term", "The Raft term this node is in.", Type::kGauge,
                    static_cast<double>(v.term)));
  out.push_back(one("nomad_lite_raft_is_leader", "1 when this node is the leader, else 0.",
                    Type::kGauge, v.role == raft::Role::kLeader ? 1 : 0));
  CollectedFamily role{"nomad_lite_raft_role",
                       "This node's Raft role: 1 for the current one, 0 for the others.",
                       Type::kGauge,
                       {}};
  // The contract's names (Prometheus label values are snake_case by convention).
  const std::pair<raft::Role, const char*> kRoles[] = {
      {raft::Role::kLeader, "leader"},
      {raft::Role::kFollower, "follower"},
      {raft::Role::kCandidate, "candidate"},
      {raft::Role::kPreCandidate, "pre_candidate"}};
  for (const auto& [r, name] : kRoles) {
    role.samples.push_back({{{"role", name}}, v.role == r ? 1.0 : 0.0});
  }
  out.push_back(std::move(role));
  out.push_back(one("nomad_lite_raft_commit_index", "The highest log index known committed.",
                    Type::kGauge, static_cast<double>(v.commit_index)));
  out.push_back(one("nomad_lite_raft_applied_index",
                    "The highest log index applied to this node's job store.", Type::kGauge,
                    static_cast<double>(v.applied_index)));
  CollectedFamily lag{"nomad_lite_raft_peer_lag_entries",
                      "On the leader: its last log index minus what each peer has matched.",
                      Type::kGauge,
                      {}};
  if (v.role == raft::Role::kLeader) {
    for (const auto& p : v.nodes) {
      if (p.id == v.node_id) continue;
      double behind = v.last_index > p.match_index ? v.last_index - p.match_index : 0;
      lag.samples.push_back({{{"peer", std::to_string(p.id)}}, behind});
    }
  }
  out.push_back(std::move(lag));
}

void collect_jobs(const jobs::JobStore& store, uint64_t node_id, double slots,
                  std::vector<CollectedFamily>& out) {
  const jobs::JobTotals& totals = store.totals();
  CollectedFamily by_status{
      "nomad_lite_jobs", "Jobs held in the applied state, by status.", Type::kGauge, {}};
  for (auto s : {nomad_lite::JOB_STATUS_PENDING, nomad_lite::JOB_STATUS_RUNNING,
                 nomad_lite::JOB_STATUS_COMPLETED, nomad_lite::JOB_STATUS_FAILED,
                 nomad_lite::JOB_STATUS_CANCELLED}) {
    by_status.samples.push_back(
        {{{"status", jobs::status_name(s)}}, static_cast<double>(totals.by_status[s])});
  }
  out.push_back(std::move(by_status));
  out.push_back(one("nomad_lite_jobs_submitted_total",
                    "Jobs ever submitted to the cluster (applied state; kept in snapshots, so "
                    "it survives restarts).",
                    Type::kCounter, static_cast<double>(totals.submitted)));
  out.push_back(one("nomad_lite_scheduler_pending_jobs",
                    "Pending jobs waiting for a slot (or for a retry's backoff).", Type::kGauge,
                    static_cast<double>(store.pending_queue().size())));
  // Used: attempts placed on this node in the applied state (what the scheduler counts).
  double used = static_cast<double>(store.running_on(node_id));
  out.push_back(
      {"nomad_lite_worker_slots",
       "This node's job slots: used by attempts placed here, and free.",
       Type::kGauge,
       {{{{"state", "used"}}, used}, {{{"state", "free"}}, std::max(slots - used, 0.0)}}});
}

}  // namespace

metrics::CollectorHandle add_node_collector(metrics::Registry& registry, node::Node& node,
                                            worker::Worker& worker) {
  return registry.add_collector([&node, &worker](std::vector<CollectedFamily>& out) {
    out.push_back({"nomad_lite_build_info",
                   "Always 1; the labels name the build.",
                   Type::kGauge,
                   {{{{"version", nomad::build_version()}}, 1}}});
    collect_raft(node.cluster_view(), out);
    const uint64_t id = node.config().node_id;
    const double slots = worker.options().slots;
    node.read_jobs([&](const jobs::JobStore& store) {
      collect_jobs(store, id, slots, out);
      return 0;
    });
    out.push_back(one("nomad_lite_worker_running_attempts",
                      "Job processes this node's worker runs now (queued to start included).",
                      Type::kGauge, static_cast<double>(worker.executor().running().size())));
    out.push_back(one("nomad_lite_worker_cgroup_version",
                      "The cgroup version each job attempt runs in, its --cpu and --memory "
                      "enforced (1 or 2); 0: limits are advisory only (the log says why).",
                      Type::kGauge, worker.executor().cgroup_version()));
  });
}

}  // namespace nomad::server
