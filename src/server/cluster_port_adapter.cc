#include "server/cluster_port_adapter.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>

#include "common/unix_time.h"
#include "server/backup.h"

namespace nomad::server {

void ClusterPortAdapter::propose(const nomad_lite::Command& command,
                                 std::optional<api::SubmittedJob> submitted,
                                 std::function<void(api::ProposeResult)> done) {
  std::optional<node::Coordinator::Submitted> placement;
  if (submitted)
    placement = node::Coordinator::Submitted{submitted->job_id, submitted->idempotency_key};
  node_.propose(
      command.SerializeAsString(),
      [done = std::move(done)](node::ProposeOutcome o) {
        api::ProposeResult r;
        using C = node::ProposeOutcome::Code;
        using R = api::ProposeResult::Code;
        switch (o.code) {
          case C::kApplied:
            r.code = R::kApplied;
            break;
          case C::kNotLeader:
            r.code = R::kNotLeader;
            break;
          case C::kRetry:
            r.code = R::kRetry;
            break;
          case C::kOverloaded:
            r.code = R::kOverloaded;
            break;
          case C::kShutdown:
            r.code = R::kShutdown;
            break;
          case C::kDiskFull:
            r.code = R::kDiskFull;
            break;
          case C::kRefused:  // membership changes only; never for a command
            r.code = R::kRetry;
            break;
        }
        r.result = std::move(o.result);
        r.leader_id = o.leader_id;
        r.leader_address = std::move(o.leader_address);
        r.detail = std::move(o.detail);
        r.index = o.index;
        done(std::move(r));
      },
      std::move(placement));
}

void ClusterPortAdapter::read_barrier(uint64_t min_index, bool linearizable,
                                      std::chrono::steady_clock::time_point deadline,
                                      std::function<void(Status, uint64_t)> done) {
  node_.read_barrier(
      min_index, linearizable, deadline,
      [this, done = std::move(done)](Status status, raft::Index applied) mutable {
        read_answers_->post({[done = std::move(done), status, applied] { done(status, applied); }});
      });
}

void ClusterPortAdapter::transfer_leadership(uint64_t target,
                                             std::chrono::steady_clock::time_point deadline,
                                             std::function<void(api::TransferResult)> done) {
  node_.transfer_leadership(
      target, deadline, [this, done = std::move(done)](node::TransferOutcome o) {
        using C = node::TransferOutcome::Code;
        using R = api::TransferResult::Code;
        api::TransferResult r;
        switch (o.code) {
          case C::kDone:
            r.code = R::kDone;
            break;
          case C::kNotLeader:
            r.code = R::kNotLeader;
            break;
          case C::kInvalidTarget:
            r.code = R::kInvalidTarget;
            break;
          case C::kUnreachable:
            r.code = R::kUnreachable;
            break;
          case C::kTimeout:
            r.code = R::kTimeout;
            break;
          case C::kShutdown:
            r.code = R::kShutdown;
            break;
        }
        r.leader_id = o.leader;
        r.leader_address = o.leader != raft::kNoNode ? node_.address_of(o.leader) : "";
        r.term = o.term;
        r.detail = std::move(o.detail);
        done(std::move(r));
      });
}

api::ClusterState ClusterPortAdapter::cluster_state() const {
  node::ClusterView v = node_.cluster_view();
  api::ClusterState s;
  s.node_id = v.node_id;
  s.role = raft::role_name(v.role);  // as the API names it
  s.term = v.term;
  s.leader_id = v.leader_id;
  s.leader_address = std::move(v.leader_address);
  s.commit_index = v.commit_index;
  s.applied_index = v.applied_index;
  for (auto& p : v.nodes) {
    s.nodes.push_back({p.id, std::move(p.address),
                       p.voter ? node::peer_role_name(p.role) : "learner", p.alive, p.match_index,
                       p.last_contact_ms});
  }
  s.tls = !node_.config().tls_ca.empty();
  s.insecure = node_.config().insecure;
  return s;
}

api::LocalOutput ClusterPortAdapter::read_local_output(const std::string& job_id, uint32_t attempt,
                                                       bool from_stderr, uint64_t offset,
                                                       size_t max,
                                                       std::chrono::milliseconds wait_for) {
  auto r = worker_.executor().read_output({job_id, attempt}, from_stderr, offset, max, wait_for);
  return {std::move(r.status), std::move(r.data), r.finished, r.truncated};
}

bool ClusterPortAdapter::stream_remote_output(
    uint64_t node_id, const nomad_lite::JobLogsRequest& request,
    const std::function<bool(const nomad_lite::LogChunk&)>& write) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(24));
  auto reader = internal_.stream_logs(node_.address_of(node_id), &context, request);
  nomad_lite::LogChunk chunk;
  bool any = false;
  while (reader->Read(&chunk)) {
    any = true;
    if (!write(chunk)) {
      context.TryCancel();
      reader->Finish();
      return true;
    }
  }
  grpc::Status s = reader->Finish();
  return s.ok() || any;
}

Status ClusterPortAdapter::save_backup(uint64_t min_index, std::string* file_bytes) {
  // Everything this leader knew committed when asked, and the index its ReadIndex confirmed,
  // is in the image: a write acknowledged to a client before the save began is in the file.
  // Applying lags committing by a moment only.
  const raft::Index committed = std::max<raft::Index>(min_index, node_.cluster_view().commit_index);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  node::Node::StateImage image = node_.state_image();
  while (image.index < committed) {
    if (std::chrono::steady_clock::now() >= give_up) {
      return Status::error("this node has not applied its committed entries (applied " +
                           std::to_string(image.index) + " of " + std::to_string(committed) +
                           ") within 5 s; retry");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // applying is under way
    image = node_.state_image();
  }
  *file_bytes = make_backup(image, node_.config(), common::unix_now_ms());
  return Status::ok();
}

}  // namespace nomad::server
