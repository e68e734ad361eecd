#pragma once

// api::ClusterPort without a cluster: a real JobStore fed the commands the service proposes
// (or a refusal chosen by the test), waits answered when the test makes a job final or lets
// them expire, and output served from strings.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <vector>

#include "api/cluster_port.h"
#include "raft/types.h"

namespace nomad::api::testing {

class FakeClusterPort : public ClusterPort {
 public:
  // The next proposals end this way instead of being applied (kApplied: applied again).
  void refuse_with(ProposeResult refusal) {
    std::lock_guard lock(mu_);
    refusal_ = std::move(refusal);
  }
  void accept() {
    std::lock_guard lock(mu_);
    refusal_.reset();
  }

  // Applies `command` as a committed entry, tells the listeners and answers the waits on the
  // jobs it made final.
  jobs::ApplyResult apply(const nomad_lite::Command& command) {
    jobs::ApplyResult result;
    std::vector<std::string> changed;
    {
      std::unique_lock lock(store_mu_);
      ++index_;
      result = store_.apply(
          raft::Entry{1, index_, raft::EntryType::kNormal, command.SerializeAsString()});
      changed = store_.take_changes();
    }
    for (const auto& listener : listeners_) listener(changed);
    answer_final_waits(changed);
    return result;
  }

  // Answers every wait not yet answered as its deadline would (final = false).
  void expire_waits() {
    std::vector<Wait> expired;
    {
      std::lock_guard lock(mu_);
      expired.swap(waits_);
    }
    for (auto& w : expired) w.done(job(w.id).value_or(nomad_lite::Job{}), false);
  }
  // Answers every wait as a stopping node does (an empty job).
  void stop_waits() {
    std::vector<Wait> stopped;
    {
      std::lock_guard lock(mu_);
      stopped.swap(waits_);
    }
    for (auto& w : stopped) w.done(nomad_lite::Job{}, false);
  }

  std::optional<nomad_lite::Job> job(const std::string& id) const {
    std::shared_lock lock(store_mu_);
    const nomad_lite::Job* j = store_.find(id);
    return j ? std::optional(*j) : std::nullopt;
  }

  // What the service did.
  std::vector<nomad_lite::Command> proposed() const {
    std::lock_guard lock(mu_);
    return proposed_;
  }
  std::vector<std::optional<SubmittedJob>> placement_hints() const {
    std::lock_guard lock(mu_);
    return hints_;
  }
  std::vector<std::chrono::steady_clock::time_point> wait_deadlines() const {
    std::lock_guard lock(mu_);
    std::vector<std::chrono::steady_clock::time_point> out;
    for (const auto& w : waits_) out.push_back(w.deadline);
    return out;
  }
  size_t store_reads() const {
    std::lock_guard lock(mu_);
    return reads_;
  }
  std::vector<uint64_t> remote_reads() const {
    std::lock_guard lock(mu_);
    return remote_nodes_;
  }

  // What the port answers.
  ClusterState state;
  bool leader = true;
  std::map<std::tuple<std::string, uint32_t, bool>, std::string> local_output;
  std::optional<std::string> remote_output;  // nullopt: the node cannot be reached

  // --- api::ClusterPort --------------------------------------------------------------------
  void propose(const nomad_lite::Command& command, std::optional<SubmittedJob> submitted,
               std::function<void(ProposeResult)> done) override {
    std::optional<ProposeResult> refusal;
    {
      std::lock_guard lock(mu_);
      proposed_.push_back(command);
      hints_.push_back(std::move(submitted));
      refusal = refusal_;
    }
    if (refusal) return done(*refusal);
    ProposeResult r;
    r.result = apply(command);
    done(std::move(r));
  }
  void read_jobs(const std::function<void(const jobs::JobStore&)>& read) const override {
    {
      std::lock_guard lock(mu_);
      ++reads_;
    }
    std::shared_lock lock(store_mu_);
    read(store_);
  }
  bool is_leader() const override { return leader; }
  void wait_job(const std::string& id, std::chrono::steady_clock::time_point deadline,
                std::function<void(nomad_lite::Job, bool)> done) override {
    std::optional<nomad_lite::Job> now = job(id);
    if (now && jobs::is_final(now->status())) return done(*now, true);
    std::lock_guard lock(mu_);
    waits_.push_back({id, deadline, std::move(done)});
  }
  ClusterState cluster_state() const override { return state; }
  void add_jobs_listener(std::function<void(const std::vector<std::string>&)> l) override {
    listeners_.push_back(std::move(l));
  }
  LocalOutput read_local_output(const std::string& job_id, uint32_t attempt, bool from_stderr,
                                uint64_t offset, size_t max, std::chrono::milliseconds) override {
    auto it = local_output.find({job_id, attempt, from_stderr});
    if (it == local_output.end()) return {Status::error("no output of " + job_id), {}, true};
    LocalOutput out;
    if (offset < it->second.size()) out.data = it->second.substr(offset, max);
    out.finished = offset + out.data.size() >= it->second.size();
    return out;
  }
  bool stream_remote_output(
      uint64_t node_id, const nomad_lite::JobLogsRequest& request,
      const std::function<bool(const nomad_lite::LogChunk&)>& write) override {
    {
      std::lock_guard lock(mu_);
      remote_nodes_.push_back(node_id);
    }
    if (!remote_output) return false;
    nomad_lite::LogChunk chunk;
    chunk.set_offset(request.offset());
    chunk.set_data(
        remote_output->substr(std::min<size_t>(request.offset(), remote_output->size())));
    write(chunk);
    return true;
  }

 private:
  struct Wait {
    std::string id;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(nomad_lite::Job, bool)> done;
  };

  void answer_final_waits(const std::vector<std::string>& changed) {
    std::vector<std::pair<Wait, nomad_lite::Job>> answered;
    {
      std::lock_guard lock(mu_);
      for (auto it = waits_.begin(); it != waits_.end();) {
        bool hit = std::find(changed.begin(), changed.end(), it->id) != changed.end();
        std::optional<nomad_lite::Job> now = hit ? job(it->id) : std::nullopt;
        if (hit && (!now || jobs::is_final(now->status()))) {
          answered.emplace_back(std::move(*it), now.value_or(nomad_lite::Job{}));
          it = waits_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& [w, j] : answered) w.done(std::move(j), true);
  }

  mutable std::shared_mutex store_mu_;
  jobs::JobStore store_;
  uint64_t index_ = 0;
  std::vector<std::function<void(const std::vector<std::string>&)>> listeners_;

  mutable std::mutex mu_;
  std::optional<ProposeResult> refusal_;
  std::vector<nomad_lite::Command> proposed_;
  std::vector<std::optional<SubmittedJob>> hints_;
  std::vector<Wait> waits_;
  mutable size_t reads_ = 0;
  std::vector<uint64_t> remote_nodes_;
};

}  // namespace nomad::api::testing
