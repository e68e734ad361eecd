#pragma once

// Proto builders for the replicated job commands (submit, assign, started, finished, cancel,
// slots, remove) and a Replica that feeds them to a JobStore as committed Raft entries, keeping
// the sequence so it can be replayed on another replica. Used by the jobs and node tests.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobs/job_store.h"
#include "proto/nomad_lite.pb.h"
#include "raft/types.h"

namespace nomad::jobs::testing {

// Options of a submission, set fluently: Opt().retries(2).priority(5).key("k").
struct Opt {
  uint32_t retries_ = 0;
  int32_t priority_ = 0;
  std::string key_;
  uint64_t timeout_ms_ = 0;
  int64_t created_at_ms_ = 1000;
  uint32_t lost_retries_ = 3;  // as the API sets it when a submission names none
  nomad_lite::OnDisconnect on_disconnect_ = nomad_lite::ON_DISCONNECT_STOP;

  Opt& retries(uint32_t v) {
    retries_ = v;
    return *this;
  }
  Opt& priority(int32_t v) {
    priority_ = v;
    return *this;
  }
  Opt& key(std::string v) {
    key_ = std::move(v);
    return *this;
  }
  Opt& timeout_ms(uint64_t v) {
    timeout_ms_ = v;
    return *this;
  }
  Opt& lost_retries(uint32_t v) {
    lost_retries_ = v;
    return *this;
  }
  Opt& keep_running() {
    on_disconnect_ = nomad_lite::ON_DISCONNECT_KEEP_RUNNING;
    return *this;
  }
};

inline nomad_lite::Command submit_cmd(const std::string& id, const Opt& o = Opt()) {
  nomad_lite::Command c;
  auto* job = c.mutable_submit()->mutable_job();
  job->set_id(id);
  job->set_command("run " + id);
  job->set_retries(o.retries_);
  job->set_priority(o.priority_);
  job->set_timeout_ms(o.timeout_ms_);
  job->set_created_at_ms(o.created_at_ms_);
  job->set_lost_retries(o.lost_retries_);
  job->set_on_disconnect(o.on_disconnect_);
  c.mutable_submit()->set_idempotency_key(o.key_);
  return c;
}

inline nomad_lite::Command cancel_cmd(const std::string& id, int64_t at_ms) {
  nomad_lite::Command c;
  c.mutable_cancel()->set_job_id(id);
  c.mutable_cancel()->set_at_ms(at_ms);
  return c;
}

inline nomad_lite::AssignJob assign_msg(const std::string& id, uint32_t attempt, uint64_t node) {
  nomad_lite::AssignJob a;
  a.set_job_id(id);
  a.set_attempt(attempt);
  a.set_node_id(node);
  return a;
}

inline nomad_lite::JobStarted started_msg(const std::string& id, uint32_t attempt, uint64_t node,
                                          int64_t at_ms) {
  nomad_lite::JobStarted s;
  s.set_job_id(id);
  s.set_attempt(attempt);
  s.set_node_id(node);
  s.set_at_ms(at_ms);
  return s;
}

inline nomad_lite::JobFinished finished_msg(const std::string& id, uint32_t attempt, uint64_t node,
                                            int64_t at_ms, std::optional<int32_t> exit_code,
                                            const std::string& reason = "", int32_t signal = 0) {
  nomad_lite::JobFinished f;
  f.set_job_id(id);
  f.set_attempt(attempt);
  f.set_node_id(node);
  f.set_at_ms(at_ms);
  if (exit_code) f.set_exit_code(*exit_code);
  f.set_reason(reason);
  f.set_signal(signal);
  return f;
}

inline nomad_lite::Command assign_cmd(const std::string& id, uint32_t attempt, uint64_t node,
                                      int64_t at_ms) {
  nomad_lite::Command c;
  c.mutable_updates()->set_at_ms(at_ms);
  *c.mutable_updates()->add_assign() = assign_msg(id, attempt, node);
  return c;
}

inline nomad_lite::Command started_cmd(const std::string& id, uint32_t attempt, uint64_t node,
                                       int64_t at_ms) {
  nomad_lite::Command c;
  c.mutable_updates()->set_at_ms(at_ms);
  *c.mutable_updates()->add_started() = started_msg(id, attempt, node, at_ms);
  return c;
}

inline nomad_lite::Command finished_cmd(const nomad_lite::JobFinished& f) {
  nomad_lite::Command c;
  c.mutable_updates()->set_at_ms(f.at_ms());
  *c.mutable_updates()->add_finished() = f;
  return c;
}

inline nomad_lite::Command finished_cmd(const std::string& id, uint32_t attempt, uint64_t node,
                                        int64_t at_ms, std::optional<int32_t> exit_code,
                                        const std::string& reason = "", int32_t signal = 0) {
  return finished_cmd(finished_msg(id, attempt, node, at_ms, exit_code, reason, signal));
}

inline nomad_lite::Command slots_cmd(std::vector<std::pair<uint64_t, uint32_t>> nodes,
                                     int64_t at_ms = 0) {
  nomad_lite::Command c;
  c.mutable_updates()->set_at_ms(at_ms);
  for (const auto& [node, slots] : nodes) {
    auto* s = c.mutable_updates()->add_slots();
    s->set_node_id(node);
    s->set_slots(slots);
  }
  return c;
}

inline nomad_lite::Command remove_cmd(std::vector<std::string> ids) {
  nomad_lite::Command c;
  for (auto& id : ids) c.mutable_remove()->add_job_ids(std::move(id));
  return c;
}

// A store fed with committed entries at consecutive log indexes (1, 2, ...). Every entry is
// kept so that another replica can apply the same sequence.
class Replica {
 public:
  ApplyResult apply(const nomad_lite::Command& command) {
    raft::Entry entry{1, next_index_++, raft::EntryType::kNormal, command.SerializeAsString()};
    log_.push_back(entry);
    return store_.apply(entry);
  }
  // A no-op entry (every new leader appends one): the state machine ignores it.
  ApplyResult noop() {
    raft::Entry entry{1, next_index_++, raft::EntryType::kNoop, ""};
    log_.push_back(entry);
    return store_.apply(entry);
  }

  JobStore& store() { return store_; }
  const JobStore& store() const { return store_; }
  const nomad_lite::Job& job(const std::string& id) const { return *store_.find(id); }
  const std::vector<raft::Entry>& log() const { return log_; }
  raft::Index last_index() const { return next_index_ - 1; }

 private:
  JobStore store_;
  raft::Index next_index_ = 1;
  std::vector<raft::Entry> log_;
};

inline std::vector<std::string> pending_ids(const JobStore& store) {
  std::vector<std::string> out;
  for (const auto& [key, id] : store.pending_queue()) out.push_back(id);
  return out;
}

inline std::vector<std::string> running_ids(const JobStore& store, uint64_t node) {
  const auto* ids = store.running_jobs_on(node);
  return ids ? std::vector<std::string>(ids->begin(), ids->end()) : std::vector<std::string>{};
}

// A snapshot in a canonical form: the jobs in submission order (the store keeps them in a hash
// map, so their order in the serialized bytes depends on its history).
inline std::string canonical_snapshot(const JobStore& store) {
  nomad_lite::JobStoreSnapshot snap;
  snap.ParseFromString(store.snapshot());
  std::sort(snap.mutable_jobs()->begin(), snap.mutable_jobs()->end(),
            [](const nomad_lite::Job& a, const nomad_lite::Job& b) {
              return a.submit_index() < b.submit_index();
            });
  std::string out;
  snap.SerializeToString(&out);
  return out;
}

}  // namespace nomad::jobs::testing
