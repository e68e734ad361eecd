// The client API's drain and eligibility calls (README "Draining a node"): checked here, then
// one SetNodeScheduling command through Raft; the job store applies it and the leader's
// coordinator enforces it.

#include <string>

#include "api/service.h"
#include "common/unix_time.h"

namespace nomad::api {
namespace {

Error invalid(std::string message) { return {Code::kInvalidArgument, std::move(message), 0, {}}; }

}  // namespace

void Service::propose_scheduling(
    const nomad_lite::SetNodeScheduling& change,
    std::function<void(Outcome<nomad_lite::NodeSchedulingResponse>)> done) {
  ClusterState cluster = port_.cluster_state();
  bool member = false;
  std::string ids;
  for (const auto& n : cluster.nodes) {
    member = member || n.id == change.node_id();
    ids += (ids.empty() ? "" : ", ") + std::to_string(n.id);
  }
  // Worker-only agents are drained and made ineligible as servers are.
  member = member ||
           read_jobs([&](const jobs::JobStore& s) { return s.agent(change.node_id()) != nullptr; });
  if (change.node_id() == 0 || !member) {
    return done({{Code::kNotFound,
                  "no node " + std::to_string(change.node_id()) +
                      " in the cluster; its nodes are " + ids + " (nomad-lite cluster status)",
                  0,
                  {}},
                 {}});
  }
  nomad_lite::Command command;
  *command.mutable_node_scheduling() = change;
  const uint64_t node = change.node_id();
  propose(command, [this, node, done = std::move(done)](Outcome<nomad_lite::Job> out) {
    Outcome<nomad_lite::NodeSchedulingResponse> answer;
    answer.error = std::move(out.error);
    if (answer.ok()) {
      // Applied on this node (the leader) before the answer: its state is the committed one.
      read_jobs(
          [&](const jobs::JobStore& s) { *answer.value.mutable_node() = s.scheduling_of(node); });
    }
    done(std::move(answer));
  });
}

void Service::drain_node(const nomad_lite::DrainNodeRequest& request,
                         std::function<void(Outcome<nomad_lite::NodeSchedulingResponse>)> done) {
  nomad_lite::SetNodeScheduling change;
  change.set_node_id(request.node_id());
  const int64_t now = common::unix_now_ms();
  change.set_at_ms(now);
  if (request.cancel()) {
    if (request.has_deadline_ms() || request.no_deadline()) {
      return done({invalid("cancel ends a drain: it takes no deadline"), {}});
    }
    change.set_eligible(true);
    return propose_scheduling(change, std::move(done));
  }
  if (request.no_deadline() && request.has_deadline_ms()) {
    return done({invalid("give a deadline or no_deadline, not both"), {}});
  }
  uint64_t deadline = request.has_deadline_ms() ? request.deadline_ms() : kDefaultDrainDeadlineMs;
  if (deadline > kMaxDrainDeadlineMs) {
    return done({invalid("deadline_ms " + std::to_string(deadline) +
                         " is over 30 days; give a shorter one, or no_deadline to wait for "
                         "the jobs however long they run"),
                 {}});
  }
  change.set_eligible(false);
  change.set_drain(true);
  // A deadline of 0 ends the running jobs at once; the stored 0 means "none", so it is now.
  if (!request.no_deadline()) change.set_drain_deadline_ms(now + static_cast<int64_t>(deadline));
  propose_scheduling(change, std::move(done));
}

void Service::set_node_eligibility(
    const nomad_lite::SetNodeEligibilityRequest& request,
    std::function<void(Outcome<nomad_lite::NodeSchedulingResponse>)> done) {
  nomad_lite::SetNodeScheduling change;
  change.set_node_id(request.node_id());
  change.set_eligible(request.eligible());
  change.set_at_ms(common::unix_now_ms());
  propose_scheduling(change, std::move(done));
}

}  // namespace nomad::api
