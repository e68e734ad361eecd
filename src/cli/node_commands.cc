#include "cli/node_commands.h"

#include <thread>

#include "api/json.h"
#include "cli/job_wait.h"
#include "cli/output.h"
#include "common/unix_time.h"
#include "jobs/node_scheduling.h"

namespace nomad::cli {
namespace {

int fail(std::ostream& err, const std::string& what, const grpc::Status& status) {
  err << "nomad-lite: " << what << ": " << describe(status) << "\n";
  return kExitError;
}

// "node 2: draining, 3 jobs running, deadline in 4m" and the like.
std::string describe_node(const nomad_lite::NodeScheduling& n, uint32_t running, int64_t now_ms) {
  std::string text = "node " + std::to_string(n.node_id()) + ": " + jobs::scheduling_state(n) +
                     ", " + std::to_string(running) + (running == 1 ? " job" : " jobs") +
                     " running";
  if (n.draining()) {
    if (n.drain_deadline_ms() == 0) {
      text += ", no deadline";
    } else if (n.drain_deadline_ms() > now_ms) {
      text += ", deadline in " + format_age(n.drain_deadline_ms() - now_ms);
    } else {
      text += ", deadline passed: re-running them elsewhere";
    }
  }
  return text;
}

void print_scheduling(std::ostream& out, const nomad_lite::NodeScheduling& n, uint32_t running,
                      OutputFormat format) {
  if (format == OutputFormat::kJson) {
    nlohmann::json j = api::scheduling_to_json(n);
    j["running_jobs"] = running;
    out << j.dump() << "\n";
  } else {
    out << describe_node(n, running, common::unix_now_ms()) << "\n";
  }
}

// The node as the cluster status shows it (running jobs included), and the answering node's
// applied index; false when the call failed.
bool look(Client& client, uint64_t node, nomad_lite::NodeStatus* status, grpc::Status* failed,
          uint64_t* applied = nullptr) {
  nomad_lite::GetClusterStatusResponse cluster;
  *failed = client.get_cluster_status({}, &cluster);
  if (!failed->ok()) return false;
  if (applied) *applied = cluster.applied_index();
  for (const auto& n : cluster.nodes()) {
    if (n.id() == node) {
      *status = n;
      return true;
    }
  }
  *failed = grpc::Status(grpc::StatusCode::NOT_FOUND,
                         "node " + std::to_string(node) + " is no longer in the cluster");
  return false;
}

// Prints a line each time the node's state or its count of running jobs changes, until the
// drain that began at `drain_index` completes (0), is cancelled or replaced (1).
int follow_drain(Client& client, const nomad_lite::NodeScheduling& began, std::ostream& out,
                 std::ostream& err) {
  std::string last;
  while (true) {
    nomad_lite::NodeStatus node;
    grpc::Status failed;
    uint64_t applied = 0;
    if (!look(client, began.node_id(), &node, &failed, &applied)) {
      return fail(err, "node drain", failed);
    }
    if (applied < began.drain_index()) {
      // A node that answers (say, after the leader died) has not applied the drain yet.
      std::this_thread::sleep_for(kDrainPollEvery);
      continue;
    }
    const auto& n = node.scheduling();
    if (n.drain_index() != began.drain_index() || (!n.draining() && n.drained_at_ms() == 0)) {
      err << "nomad-lite: node drain: the drain of node " << began.node_id()
          << " was cancelled or replaced by another (nomad-lite cluster status)\n";
      return kExitError;
    }
    if (!n.draining()) {
      out << "node " << began.node_id() << " is drained: no job runs there; it takes no new "
          << "jobs until nomad-lite node eligibility " << began.node_id() << " on\n";
      return 0;
    }
    std::string line = describe_node(n, node.running_jobs(), common::unix_now_ms());
    // The deadline's countdown changes the line every minute at most: no flood.
    if (line != last) out << line << std::endl;
    last = line;
    std::this_thread::sleep_for(kDrainPollEvery);
  }
}

int drain(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  const NodeOptions& o = inv.node;
  nomad_lite::DrainNodeRequest request;
  request.set_node_id(o.node_id);
  request.set_cancel(o.cancel);
  request.set_no_deadline(o.no_deadline);
  if (o.deadline) request.set_deadline_ms(static_cast<uint64_t>(o.deadline->count()));
  nomad_lite::NodeSchedulingResponse response;
  grpc::Status status = client.drain_node(request, &response);
  if (!status.ok()) return fail(err, "node drain", status);
  nomad_lite::NodeStatus node;
  grpc::Status failed;
  uint32_t running = look(client, o.node_id, &node, &failed) ? node.running_jobs() : 0;
  if (o.cancel || o.detach || inv.client.output == OutputFormat::kJson) {
    print_scheduling(out, response.node(), running, inv.client.output);
    return 0;
  }
  return follow_drain(client, response.node(), out, err);
}

int eligibility(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::SetNodeEligibilityRequest request;
  request.set_node_id(inv.node.node_id);
  request.set_eligible(inv.node.eligible);
  nomad_lite::NodeSchedulingResponse response;
  grpc::Status status = client.set_node_eligibility(request, &response);
  if (!status.ok()) return fail(err, "node eligibility", status);
  nomad_lite::NodeStatus node;
  grpc::Status failed;
  uint32_t running = look(client, inv.node.node_id, &node, &failed) ? node.running_jobs() : 0;
  print_scheduling(out, response.node(), running, inv.client.output);
  return 0;
}

}  // namespace

int run_node_command(const Invocation& invocation, Client& client, std::ostream& out,
                     std::ostream& err) {
  if (invocation.command == Command::kNodeDrain) return drain(invocation, client, out, err);
  return eligibility(invocation, client, out, err);
}

}  // namespace nomad::cli
