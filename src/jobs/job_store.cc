#include "jobs/job_store.h"

namespace nomad::jobs {

const char* status_name(nomad_lite::JobStatus status) {
  switch (status) {
    case nomad_lite::JOB_STATUS_PENDING: return "pending";
    case nomad_lite::JOB_STATUS_RUNNING: return "running";
    case nomad_lite::JOB_STATUS_COMPLETED: return "completed";
    case nomad_lite::JOB_STATUS_FAILED: return "failed";
    case nomad_lite::JOB_STATUS_CANCELLED: return "cancelled";
    default: return "unknown";
  }
}

bool is_final(nomad_lite::JobStatus status) {
  return status == nomad_lite::JOB_STATUS_COMPLETED || status == nomad_lite::JOB_STATUS_FAILED ||
         status == nomad_lite::JOB_STATUS_CANCELLED;
}

ApplyResult JobStore::apply(const raft::Entry& entry) {
  if (entry.type != raft::EntryType::kNormal) return {};
  nomad_lite::Command command;
  if (!command.ParseFromString(entry.data)) {
    // Every node skips the same unreadable entry, so the replicas stay identical.
    return {Status::error("unreadable command at index " + std::to_string(entry.index)), {}};
  }
  switch (command.kind_case()) {
    case nomad_lite::Command::kSubmit:
      return submit(command.submit(), entry.index);
    case nomad_lite::Command::kCancel:
      return cancel(command.cancel());
    default:
      return {Status::error("unknown command at index " + std::to_string(entry.index)), {}};
  }
}

ApplyResult JobStore::submit(const nomad_lite::SubmitJobCommand& command, raft::Index index) {
  if (!command.idempotency_key().empty()) {
    // A retried submission (say, after a leader change) gets the job it created the first time.
    auto it = idempotency_keys_.find(command.idempotency_key());
    if (it != idempotency_keys_.end()) return {Status::ok(), *jobs_.at(it->second)};
  }
  if (jobs_.count(command.job().id())) {
    return {Status::error("job id " + command.job().id() + " already exists"), {}};
  }
  auto job = std::make_shared<nomad_lite::Job>(command.job());
  job->set_status(nomad_lite::JOB_STATUS_PENDING);
  job->set_submit_index(index);
  by_submit_index_[index] = job->id();
  if (!command.idempotency_key().empty()) idempotency_keys_[command.idempotency_key()] = job->id();
  jobs_[job->id()] = job;
  return {Status::ok(), *job};
}

ApplyResult JobStore::cancel(const nomad_lite::CancelJobCommand& command) {
  auto it = jobs_.find(command.job_id());
  if (it == jobs_.end()) return {Status::error("no job " + command.job_id()), {}};
  const nomad_lite::Job& current = *it->second;
  if (is_final(current.status())) {
    return {Status::error("job " + current.id() + " already finished (" +
                          status_name(current.status()) +
                          "); only pending or running jobs can be cancelled"),
            current};
  }
  auto job = std::make_shared<nomad_lite::Job>(current);
  job->set_status(nomad_lite::JOB_STATUS_CANCELLED);
  job->set_finished_at_ms(command.at_ms());
  it->second = job;
  return {Status::ok(), *job};
}

const nomad_lite::Job* JobStore::find(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second.get();
}

ListPage JobStore::list(const ListQuery& query) const {
  ListPage page;
  auto matches = [&](const nomad_lite::Job& job) {
    return (query.status == nomad_lite::JOB_STATUS_UNSPECIFIED || job.status() == query.status) &&
           (query.command_contains.empty() ||
            job.command().find(query.command_contains) != std::string::npos);
  };
  for (auto it = by_submit_index_.rbegin(); it != by_submit_index_.rend(); ++it) {
    const nomad_lite::Job& job = *jobs_.at(it->second);
    if (!matches(job)) continue;
    ++page.total;
    if (query.before_submit_index != 0 && it->first >= query.before_submit_index) continue;
    if (page.jobs.size() < query.limit) {
      page.jobs.push_back(job);
    } else if (page.next_before == 0) {
      page.next_before = page.jobs.back().submit_index();
    }
  }
  return page;
}

JobStoreImage JobStore::image() const {
  JobStoreImage image;
  image.jobs.reserve(by_submit_index_.size());
  for (const auto& [index, id] : by_submit_index_) image.jobs.push_back(jobs_.at(id));
  image.idempotency_keys.assign(idempotency_keys_.begin(), idempotency_keys_.end());
  return image;
}

std::string JobStoreImage::serialize() const {
  nomad_lite::JobStoreSnapshot snap;
  snap.mutable_jobs()->Reserve(static_cast<int>(jobs.size()));
  for (const auto& job : jobs) *snap.add_jobs() = *job;
  for (const auto& [key, id] : idempotency_keys) {
    auto* k = snap.add_keys();
    k->set_key(key);
    k->set_job_id(id);
  }
  return snap.SerializeAsString();
}

Status JobStore::restore(const std::string& data) {
  nomad_lite::JobStoreSnapshot snap;
  if (!snap.ParseFromString(data)) return Status::error("unreadable job store snapshot");
  jobs_.clear();
  by_submit_index_.clear();
  idempotency_keys_.clear();
  for (auto& job : *snap.mutable_jobs()) {
    std::string id = job.id();  // read before the move below
    by_submit_index_[job.submit_index()] = id;
    jobs_[id] = std::make_shared<const nomad_lite::Job>(std::move(job));
  }
  for (const auto& k : snap.keys()) idempotency_keys_[k.key()] = k.job_id();
  return Status::ok();
}

}  // namespace nomad::jobs
