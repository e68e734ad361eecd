// Read barriers: a read of the job store that must see a given write (read-your-writes: wait
// until this node applied the index the write committed at) or every write acknowledged
// before it began (linearizable: ReadIndex, raft/read_index.cc). Both wait, bounded, on the
// loop thread; the job store is read by the caller once `done` says so.

#include <string>

#include "node/node.h"

namespace nomad::node {

namespace {

std::string applied_error(raft::Index wanted, raft::Index applied) {
  return "this node has applied up to index " + std::to_string(applied) + " and did not reach " +
         std::to_string(wanted) +
         " in time (it may be cut off from the leader or catching up); retry, or ask another node";
}

}  // namespace

void Node::read_barrier(raft::Index min_index, bool linearizable,
                        std::chrono::steady_clock::time_point deadline, ReadCallback done) {
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      new_reads_.push_back({min_index, linearizable, deadline, std::move(done)});
      if (new_reads_.size() == 1) queue_cv_.notify_one();
      return;
    }
  }
  done(Status::error("the node is shutting down"), 0);
}

void Node::start_reads(std::vector<ReadBarrier>& reads) {
  for (ReadBarrier& r : reads) {
    if (r.linearizable) {
      uint64_t id = next_read_id_++;
      reads_in_core_.emplace(id, std::move(r));
      core_->read_index(id);
    } else {
      reads_to_apply_.emplace(r.min_index, std::move(r));
    }
  }
  reads.clear();
  release_reads();
}

void Node::on_read_states(const std::vector<raft::ReadState>& states) {
  for (const raft::ReadState& s : states) {
    auto it = reads_in_core_.find(s.request_id);
    if (it == reads_in_core_.end()) continue;
    ReadBarrier r = std::move(it->second);
    reads_in_core_.erase(it);
    if (!s.ok) {
      reads_to_retry_.push_back(std::move(r));  // asked again at the next tick
      continue;
    }
    raft::Index wanted = std::max(r.min_index, s.index);
    r.min_index = wanted;
    reads_to_apply_.emplace(wanted, std::move(r));
  }
}

void Node::release_reads() {
  // What the job store holds, not the core's applied index: a snapshot the core accepted in
  // step() moves that at once, and the store takes the snapshot only in the next Ready.
  raft::Index applied = jobs_index_;
  while (!reads_to_apply_.empty() && reads_to_apply_.begin()->first <= applied) {
    ReadCallback done = std::move(reads_to_apply_.begin()->second.done);
    reads_to_apply_.erase(reads_to_apply_.begin());
    done(Status::ok(), applied);
  }
}

void Node::tick_reads(std::chrono::steady_clock::time_point now) {
  std::vector<ReadBarrier> retry;
  retry.swap(reads_to_retry_);
  for (ReadBarrier& r : retry) {
    if (r.deadline <= now) {
      r.done(Status::error("no leader confirmed a read index in time (none is elected, or it "
                           "cannot reach a majority); retry shortly"),
             jobs_index_);
      continue;
    }
    uint64_t id = next_read_id_++;
    reads_in_core_.emplace(id, std::move(r));
    core_->read_index(id);
  }
  for (auto it = reads_in_core_.begin(); it != reads_in_core_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    it->second.done(Status::error("the leader did not confirm a read index in time (it may have "
                                  "lost its majority); retry shortly"),
                    jobs_index_);
    it = reads_in_core_.erase(it);
  }
  for (auto it = reads_to_apply_.begin(); it != reads_to_apply_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    it->second.done(Status::error(applied_error(it->first, jobs_index_)), jobs_index_);
    it = reads_to_apply_.erase(it);
  }
}

void Node::fail_reads(const std::string& why) {
  raft::Index applied = jobs_index_;
  for (auto& [id, r] : reads_in_core_) r.done(Status::error(why), applied);
  for (auto& r : reads_to_retry_) r.done(Status::error(why), applied);
  for (auto& [index, r] : reads_to_apply_) r.done(Status::error(why), applied);
  reads_in_core_.clear();
  reads_to_retry_.clear();
  reads_to_apply_.clear();
}

}  // namespace nomad::node
