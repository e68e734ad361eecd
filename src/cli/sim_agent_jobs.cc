#include "cli/sim_agent_jobs.h"

#include <charconv>
#include <set>

namespace nomad::cli {
namespace {

bool is_final(nomad_lite::JobStatus status) {
  return status == nomad_lite::JOB_STATUS_COMPLETED || status == nomad_lite::JOB_STATUS_FAILED ||
         status == nomad_lite::JOB_STATUS_CANCELLED;
}

}  // namespace

SimAgentJobs::Changes SimAgentJobs::apply(const nomad_lite::AgentUpdate& update, int64_t now_ms) {
  Changes changes;
  std::set<std::string> listed;
  for (const auto& job : update.jobs()) {
    if (update.full()) listed.insert(job.id());
    if (is_final(job.status())) {
      owed_.erase(job.id());
      changes.finished.push_back(&job);
      continue;
    }
    const nomad_lite::Attempt* attempt =
        job.attempts_size() > 0 ? &job.attempts(job.attempts_size() - 1) : nullptr;
    bool ours = job.status() == nomad_lite::JOB_STATUS_RUNNING && attempt &&
                attempt->node_id() == agent_id_ && attempt->finished_at_ms() == 0;
    auto owed = owed_.find(job.id());
    if (!ours) {
      if (owed != owed_.end()) owed_.erase(owed);  // moved elsewhere, or its finish applied
      continue;
    }
    if (owed != owed_.end() && owed->second.attempt() == attempt->number()) continue;
    nomad_lite::JobFinished finish;
    finish.set_job_id(job.id());
    finish.set_attempt(attempt->number());
    finish.set_node_id(agent_id_);
    finish.set_at_ms(now_ms);
    finish.set_started_at_ms(now_ms);
    finish.set_exit_code(0);
    owed_[job.id()] = std::move(finish);
    changes.placed.push_back(&job);
  }
  for (const auto& id : update.removed()) owed_.erase(id);
  if (update.full()) {
    for (auto it = owed_.begin(); it != owed_.end();) {
      it = listed.count(it->first) ? std::next(it) : owed_.erase(it);
    }
  }
  return changes;
}

void SimAgentJobs::add_owed(nomad_lite::WorkerReport* report) const {
  for (const auto& [id, finish] : owed_) *report->add_finished() = finish;
}

uint64_t bench_job_sequence(const nomad_lite::Job& job, const std::string& key_prefix) {
  const std::string& key = job.idempotency_key();
  if (key.size() <= key_prefix.size() + 1 || key.compare(0, key_prefix.size(), key_prefix) != 0 ||
      key[key_prefix.size()] != '-') {
    return 0;
  }
  uint64_t sequence = 0;
  const char* begin = key.data() + key_prefix.size() + 1;
  const char* end = key.data() + key.size();
  auto [ptr, error] = std::from_chars(begin, end, sequence);
  return error == std::errc() && ptr == end ? sequence : 0;
}

}  // namespace nomad::cli
