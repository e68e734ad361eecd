#pragma once

// A tiny deterministic harness for the consensus core's unit tests: a few Cores, each with an
// in-memory "disk" and state machine, and a fake network whose messages a test delivers, drops
// or inspects by hand. No threads and no clock: time passes only when a test ticks a node.
//
// The harness follows the Ready contract exactly (send Ready::messages at once, apply the
// committed entries, advance(), then make the write durable, report persisted() and only then
// send Ready::messages_after_append; with Node::async_writes the write waits in a queue until
// the test syncs it) and checks every message against the disk at the moment it leaves. A
// violation is reported with ADD_FAILURE in whatever test caused it:
//   - the term never decreases and the vote never changes within a term (one vote per term);
//   - a vote request or a granted vote leaves only after the vote it depends on is on disk;
//   - an acknowledged append covers only entries already on disk;
//   - a committed entry is never overwritten on disk;
//   - committed entries are applied in index order, each once, and only once on this disk;
//   - a snapshot is acknowledged only once it is on disk, and installing one never changes
//     what the state machine already applied (it only extends it).
//
// The state machine is the list of applied entries' payloads (one string per index, "" for a
// no-op), so two nodes' states compare with ==; its snapshot is that list serialized.

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/core.h"

namespace nomad::raft::test {

// ---- building blocks ---------------------------------------------------------------------

// Entries with the given terms at indexes first, first+1, ... (payload "e<index>").
inline std::vector<Entry> entries_with_terms(const std::vector<Term>& terms, Index first = 1) {
  std::vector<Entry> out;
  for (size_t i = 0; i < terms.size(); ++i) {
    Index index = first + i;
    out.push_back(Entry{terms[i], index, EntryType::kNormal, "e" + std::to_string(index)});
  }
  return out;
}

// Terms vector: `count` copies of `term`, appended to `terms`.
inline std::vector<Term> repeat(std::vector<Term> terms, Term term, size_t count) {
  terms.insert(terms.end(), count, term);
  return terms;
}

inline RestoredState restored(Term term, const std::vector<Term>& log_terms, Index commit = 0,
                              NodeId vote = kNoNode) {
  RestoredState r;
  r.hard_state = HardState{term, vote, commit};
  r.entries = entries_with_terms(log_terms);
  return r;
}

inline Message vote_request(NodeId from, NodeId to, Term term, Index last_index, Term last_term,
                            bool pre_vote = false) {
  Message m;
  m.type = pre_vote ? MessageType::kPreVote : MessageType::kVote;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = last_index;
  m.log_term = last_term;
  return m;
}

inline Message append_request(NodeId from, NodeId to, Term term, Index prev_index, Term prev_term,
                              std::vector<Entry> entries, Index commit) {
  Message m;
  m.type = MessageType::kAppend;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = prev_index;
  m.log_term = prev_term;
  m.entries = std::move(entries);
  m.commit = commit;
  return m;
}

inline Message message(MessageType type, NodeId from, NodeId to, Term term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

inline bool is_election_message(const Message& m) {
  return m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResponse ||
         m.type == MessageType::kVote || m.type == MessageType::kVoteResponse;
}

inline std::vector<Message> of_type(const std::vector<Message>& ms, MessageType type,
                                    NodeId to = kNoNode) {
  std::vector<Message> out;
  for (const auto& m : ms) {
    if (m.type == type && (to == kNoNode || m.to == to)) out.push_back(m);
  }
  return out;
}

inline std::vector<std::string> commands(size_t count, const std::string& prefix = "cmd") {
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// ---- snapshots ------------------------------------------------------------------------------

// The state machine's snapshot format: each payload as "<length>:<bytes>".
inline std::string serialize_state(const std::vector<std::string>& state) {
  std::string out;
  for (const std::string& s : state) out += std::to_string(s.size()) + ":" + s;
  return out;
}

// The inverse of serialize_state; nullopt for bytes it did not produce.
inline std::optional<std::vector<std::string>> parse_state(const std::string& data) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t colon = data.find(':', pos);
    if (colon == std::string::npos || colon == pos) return std::nullopt;
    size_t length = 0;
    for (size_t i = pos; i < colon; ++i) {
      if (data[i] < '0' || data[i] > '9') return std::nullopt;
      length = length * 10 + static_cast<size_t>(data[i] - '0');
    }
    if (length > data.size() - colon - 1) return std::nullopt;
    out.push_back(data.substr(colon + 1, length));
    pos = colon + 1 + length;
  }
  return out;
}

// A node restored from a snapshot covering [1, snapshot_index] (a state of payloads "s<i>")
// in snapshot_term, followed by entries with `log_terms`, already applied up to the snapshot.
inline RestoredState restored_with_snapshot(Term term, Index snapshot_index, Term snapshot_term,
                                            const std::vector<Term>& log_terms, Index commit = 0,
                                            NodeId vote = kNoNode) {
  std::vector<std::string> state;
  for (Index i = 1; i <= snapshot_index; ++i) state.push_back("s" + std::to_string(i));
  RestoredState r;
  r.hard_state = HardState{term, vote, std::max(commit, snapshot_index)};
  r.entries = entries_with_terms(log_terms, snapshot_index + 1);
  r.snapshot_index = snapshot_index;
  r.snapshot_term = snapshot_term;
  r.snapshot_data = std::make_shared<const std::string>(serialize_state(state));
  r.applied = snapshot_index;
  return r;
}

inline Message snapshot_chunk(NodeId from, NodeId to, Term term, Index index, Term log_term,
                              uint64_t offset, std::string chunk, bool done) {
  Message m;
  m.type = MessageType::kSnapshot;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = index;
  m.log_term = log_term;
  m.offset = offset;
  m.chunk = std::move(chunk);
  m.done = done;
  return m;
}

// ---- one node: a Core, its disk and its state machine -------------------------------------

struct Disk {
  HardState hard_state;
  // The latest snapshot (index 0: none) and the log after it:
  // entries[i].index == snapshot.index + i + 1.
  Snapshot snapshot;
  std::vector<Entry> entries;

  Index last_index() const { return snapshot.index + entries.size(); }
  // The entry at `index`, or nullptr when it is compacted or beyond the log.
  const Entry* at(Index index) const {
    if (index <= snapshot.index || index > last_index()) return nullptr;
    return &entries[index - snapshot.index - 1];
  }
};

class Node {
 public:
  Node(Config config, RestoredState restored) : config_(std::move(config)) {
    disk_.hard_state = restored.hard_state;
    disk_.snapshot = {restored.snapshot_index, restored.snapshot_term, restored.snapshot_data};
    disk_.entries = restored.entries;
    // The state machine starts from the snapshot, plus the restored entries it already applied.
    restore_state_from_snapshot();
    for (const Entry& e : restored.entries) {
      if (e.index > restored.applied) break;
      state_.push_back(e.data);
      applied_index_ = e.index;
    }
    core_ = std::make_unique<Core>(config_, std::move(restored));
  }

  Core& core() { return *core_; }
  const Disk& disk() const { return disk_; }
  // Every entry this node applied through Ready::committed, in order (since the node was
  // built; entries that arrived inside a snapshot are not in it).
  const std::vector<Entry>& applied() const { return applied_; }
  Index applied_index() const { return applied_index_; }
  // The state machine: the payload of every entry from index 1 to applied_index().
  const std::vector<std::string>& state() const { return state_; }
  // Every Ready::snapshot this node was handed, in order.
  const std::vector<Snapshot>& installed_snapshots() const { return installed_snapshots_; }

  // The application takes a snapshot of its state machine at `index` and compacts the core's
  // log and its disk to it. Returns what Core::compact() returned; changes nothing if false.
  bool compact(Index index) {
    if (index > state_.size()) {
      // Beyond what was applied: there is no state to snapshot, and the core must refuse.
      if (core_->compact(index, nullptr)) {
        ADD_FAILURE() << "node " << config_.id << ": compacted to " << index
                      << " beyond the applied index " << state_.size();
      }
      return false;
    }
    auto data = std::make_shared<const std::string>(serialize_state(
        std::vector<std::string>(state_.begin(), state_.begin() + static_cast<long>(index))));
    if (!core_->compact(index, data)) return false;
    if (index <= disk_.snapshot.index || index > disk_.last_index()) {
      ADD_FAILURE() << "node " << config_.id << ": compacted to " << index
                    << " outside the disk's log (" << disk_.snapshot.index << ", "
                    << disk_.last_index() << "]";
      return true;
    }
    disk_.entries.erase(disk_.entries.begin(),
                        disk_.entries.begin() + static_cast<long>(index - disk_.snapshot.index));
    disk_.snapshot = {index, core_->snapshot().term, std::move(data), core_->snapshot().membership};
    return true;
  }

  // While set, every write fails (a full disk): nothing reaches the disk, the Ready's
  // messages_after_append are never sent (its `messages` already left, its committed entries
  // were applied: they were durable already) and the core is told persist_failed().
  bool disk_full = false;

  // While set, writes are queued instead of made durable at once: a test completes them with
  // sync() (in order, as one group commit), so messages leave and entries are applied while
  // the disk lags behind. A crash (restart()) loses what is still queued.
  bool async_writes = false;

  // One ready()/advance() cycle, following the contract: `messages` leave at once, the
  // committed entries are applied, the core is told the Ready was taken; then the write is
  // made durable (or queued, see async_writes), persisted() reported and only then
  // `messages_after_append` leave. Returns the Ready it handled with the messages that left
  // (messages_after_append empty while its write is queued or after it failed).
  Ready cycle() {
    if (!core_->has_ready()) return Ready{};
    Ready rd = core_->ready();
    check_sent(rd.messages);
    apply(rd.committed);
    core_->advance();
    if (rd.soft_state) soft_states_.push_back(*rd.soft_state);
    if (!rd.has_writes() && queued_.empty()) {
      check_sent(rd.messages_after_append);  // nothing to wait for
      return rd;
    }
    queued_.push_back(rd);
    queued_.back().messages.clear();
    queued_.back().committed.clear();
    rd.messages_after_append.clear();
    if (!async_writes) rd.messages_after_append = sync();
    return rd;
  }

  // Makes every queued write durable, as one group: writes them in order, reports the last
  // entry written through persisted(), and returns the messages that waited for them. With
  // disk_full the first write fails instead: everything queued is discarded and the core is
  // told persist_failed().
  std::vector<Message> sync() {
    std::vector<Message> out;
    if (queued_.empty()) return out;
    if (disk_full) {
      queued_.clear();
      core_->persist_failed();
      return out;
    }
    std::optional<std::pair<Index, Term>> last;
    for (Ready& rd : queued_) {
      persist(rd);
      if (!rd.entries.empty()) last = {rd.entries.back().index, rd.entries.back().term};
    }
    for (Ready& rd : queued_) {
      check_sent(rd.messages_after_append);
      out.insert(out.end(), rd.messages_after_append.begin(), rd.messages_after_append.end());
    }
    queued_.clear();
    if (last) core_->persisted(last->first, last->second);
    return out;
  }
  size_t queued_writes() const { return queued_.size(); }
  // Every soft state the core reported, in order.
  const std::vector<SoftState>& soft_states() const { return soft_states_; }

  // Cycles (and, with async writes, syncs) until the core has nothing more to hand out;
  // returns every message to send.
  std::vector<Message> drain() {
    std::vector<Message> out;
    for (int i = 0; core_->has_ready() || !queued_.empty(); ++i) {
      if (i == 1000) {
        ADD_FAILURE() << "node " << config_.id << ": has_ready() stays true after 1000 cycles";
        break;
      }
      Ready rd = cycle();
      out.insert(out.end(), rd.messages.begin(), rd.messages.end());
      out.insert(out.end(), rd.messages_after_append.begin(), rd.messages_after_append.end());
      if (async_writes && !core_->has_ready()) {
        std::vector<Message> later = sync();
        out.insert(out.end(), later.begin(), later.end());
      }
    }
    return out;
  }

  // A crash and restart: everything not on disk is lost; the state machine is kept (as if it
  // were durable) and the core is told how far it got.
  void restart() {
    queued_.clear();
    RestoredState r = read_disk();
    r.applied = applied_index_;
    core_ = std::make_unique<Core>(config_, std::move(r));
  }

  // A crash and restart of a node whose state machine lives in memory: it is rebuilt from the
  // snapshot on disk, and the committed entries after the snapshot are applied again.
  void restart_from_snapshot() {
    queued_.clear();
    RestoredState r = read_disk();
    r.applied = disk_.snapshot.index;
    restore_state_from_snapshot();
    core_ = std::make_unique<Core>(config_, std::move(r));
  }

 private:
  RestoredState read_disk() const {
    RestoredState r;
    r.hard_state = disk_.hard_state;
    r.entries = disk_.entries;
    r.snapshot_index = disk_.snapshot.index;
    r.snapshot_term = disk_.snapshot.term;
    r.snapshot_data = disk_.snapshot.data;
    r.snapshot_membership = disk_.snapshot.membership;
    return r;
  }

  void restore_state_from_snapshot() {
    state_.clear();
    applied_index_ = disk_.snapshot.index;
    if (disk_.snapshot.index == 0) return;
    if (!disk_.snapshot.data) {
      // Restored without the snapshot's bytes: the content is unknown, only its length.
      state_.assign(disk_.snapshot.index, "?");
      return;
    }
    auto state = parse_state(*disk_.snapshot.data);
    if (!state || state->size() != disk_.snapshot.index) {
      ADD_FAILURE() << "node " << config_.id << ": snapshot at " << disk_.snapshot.index
                    << " does not hold a state of that many entries";
      state_.assign(disk_.snapshot.index, "?");
      return;
    }
    state_ = std::move(*state);
  }

  // Ready::snapshot: make it durable, drop the log it replaces, reset the state machine.
  void install(const Snapshot& snapshot) {
    const NodeId id = config_.id;
    installed_snapshots_.push_back(snapshot);
    if (snapshot.index <= applied_index_ || snapshot.index <= disk_.snapshot.index) {
      ADD_FAILURE() << "node " << id << ": handed a snapshot at " << snapshot.index
                    << " but it already applied " << applied_index_ << " and holds a snapshot at "
                    << disk_.snapshot.index;
    }
    const std::vector<std::string> before = state_;
    disk_.snapshot = snapshot;
    disk_.entries.clear();
    restore_state_from_snapshot();
    if (state_.size() < before.size() ||
        !std::equal(before.begin(), before.end(), state_.begin())) {
      ADD_FAILURE() << "node " << id << ": the snapshot at " << snapshot.index
                    << " contradicts what the state machine already applied";
    }
  }

  void persist(const Ready& rd) {
    const NodeId id = config_.id;
    if (rd.snapshot) install(*rd.snapshot);
    const Index old_commit = disk_.hard_state.commit;
    if (rd.hard_state) {
      const HardState& old = disk_.hard_state;
      const HardState& hs = *rd.hard_state;
      if (hs.term < old.term) {
        ADD_FAILURE() << "node " << id << ": term went back from " << old.term << " to " << hs.term;
      }
      if (hs.term == old.term && old.vote != kNoNode && hs.vote != old.vote) {
        ADD_FAILURE() << "node " << id << ": voted for " << hs.vote << " after voting for "
                      << old.vote << " in term " << hs.term;
      }
      if (hs.commit < old.commit) {
        ADD_FAILURE() << "node " << id << ": persisted commit went back from " << old.commit
                      << " to " << hs.commit;
      }
      disk_.hard_state = hs;
    }
    if (!rd.entries.empty()) {
      Index first = rd.entries.front().index;
      if (first <= disk_.snapshot.index || first > disk_.last_index() + 1) {
        ADD_FAILURE() << "node " << id << ": Ready entries start at " << first
                      << " but the disk holds (" << disk_.snapshot.index << ", "
                      << disk_.last_index() << "]";
        return;
      }
      if (first <= old_commit) {
        // Overwriting a committed entry is only harmless if it is rewritten unchanged.
        for (const Entry& e : rd.entries) {
          if (e.index > old_commit || !disk_.at(e.index)) break;
          if (!(*disk_.at(e.index) == e)) {
            ADD_FAILURE() << "node " << id << ": committed entry " << e.index
                          << " overwritten on disk";
          }
        }
      }
      disk_.entries.resize(first - 1 - disk_.snapshot.index);
      for (const Entry& e : rd.entries) {
        if (e.index != disk_.last_index() + 1) {
          ADD_FAILURE() << "node " << id << ": Ready entries not contiguous at " << e.index;
          return;
        }
        disk_.entries.push_back(e);
      }
    }
  }

  // Messages leaving now, checked against what is on disk now.
  void check_sent(const std::vector<Message>& messages) const {
    const NodeId id = config_.id;
    const HardState& hs = disk_.hard_state;
    for (const Message& m : messages) {
      if (m.from != id) {
        ADD_FAILURE() << "node " << id << ": sends a message claiming to be from " << m.from;
      }
      if (m.type == MessageType::kVote && (hs.term != m.term || hs.vote != id)) {
        ADD_FAILURE() << "node " << id << ": requests votes for term " << m.term
                      << " before persisting its own vote (disk: term " << hs.term << ", vote "
                      << hs.vote << ")";
      }
      if (m.type == MessageType::kVoteResponse && !m.reject &&
          (hs.term != m.term || hs.vote != m.to)) {
        ADD_FAILURE() << "node " << id << ": grants its vote to " << m.to << " in term " << m.term
                      << " before persisting it (disk: term " << hs.term << ", vote " << hs.vote
                      << ")";
      }
      if (m.type == MessageType::kAppendResponse && !m.reject && m.index > disk_.last_index()) {
        ADD_FAILURE() << "node " << id << ": acknowledges index " << m.index
                      << " but the disk ends at " << disk_.last_index();
      }
      if (m.type == MessageType::kSnapshotResponse && m.done && m.index > disk_.last_index()) {
        ADD_FAILURE() << "node " << id << ": reports the snapshot at " << m.index
                      << " installed but the disk ends at " << disk_.last_index();
      }
    }
  }

  // The core hands out only entries this node holds durably (core.h, "Applying"): each must
  // be on disk as it is applied.
  void apply(const std::vector<Entry>& committed) {
    const NodeId id = config_.id;
    for (const Entry& e : committed) {
      if (e.index != applied_index_ + 1) {
        ADD_FAILURE() << "node " << id << ": applies index " << e.index << " after "
                      << applied_index_;
      }
      if (!disk_.at(e.index) || !(*disk_.at(e.index) == e)) {
        ADD_FAILURE() << "node " << id << ": applies entry " << e.index
                      << " that differs from the one on disk or is not on it yet (disk: "
                      << disk_.snapshot.index << ", " << disk_.last_index() << "])";
      }
      applied_index_ = e.index;
      applied_.push_back(e);
      state_.push_back(e.data);
    }
  }

  Config config_;
  std::unique_ptr<Core> core_;
  Disk disk_;
  Index applied_index_ = 0;
  std::vector<Entry> applied_;
  std::vector<std::string> state_;
  std::vector<Snapshot> installed_snapshots_;
  std::deque<Ready> queued_;  // writes not yet durable, with the messages waiting for them
  std::vector<SoftState> soft_states_;
};

// ---- a cluster on a fake network -----------------------------------------------------------

struct ClusterOptions {
  size_t nodes = 3;  // ids 1..nodes, all voters
  uint64_t seed = 1;
  std::function<void(Config&)> tweak;        // applied to every node's Config
  std::map<NodeId, RestoredState> restored;  // per node; absent means a fresh node
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {}) {
    std::vector<NodeId> voters;
    for (NodeId id = 1; id <= options.nodes; ++id) voters.push_back(id);
    for (NodeId id : voters) {
      Config config;
      config.id = id;
      config.voters = voters;
      config.seed = options.seed * 1000 + id;
      if (options.tweak) options.tweak(config);
      RestoredState r;
      if (auto it = options.restored.find(id); it != options.restored.end()) r = it->second;
      nodes_.emplace(id, std::make_unique<Node>(config, std::move(r)));
    }
  }

  Node& node(NodeId id) { return *nodes_.at(id); }
  Core& core(NodeId id) { return nodes_.at(id)->core(); }
  // A new node that joins the running cluster (Config::join: no membership of its own yet).
  Node& add_joining_node(NodeId id, const std::function<void(Config&)>& tweak = {}) {
    Config config;
    config.id = id;
    config.join = true;
    config.seed = id;
    if (tweak) tweak(config);
    nodes_.emplace(id, std::make_unique<Node>(config, RestoredState{}));
    return *nodes_.at(id);
  }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, n] : nodes_) out.push_back(id);
    return out;
  }

  // ---- network ----

  // Messages sent and not yet delivered, oldest first. Tests may inspect or edit it.
  std::deque<Message>& pending() { return pending_; }
  // Every message delivered so far, in order.
  const std::vector<Message>& trace() const { return trace_; }
  // Called just before a message is stepped into its target.
  std::function<void(const Message&)> before_deliver;

  void cut(NodeId a, NodeId b) {
    cuts_.insert({a, b});
    cuts_.insert({b, a});
  }
  void isolate(NodeId id) {
    for (NodeId other : ids()) {
      if (other != id) cut(id, other);
    }
  }
  void heal() { cuts_.clear(); }
  bool connected(NodeId from, NodeId to) const { return !cuts_.count({from, to}); }

  // Queues messages for delivery; those across a cut are lost.
  void send(const std::vector<Message>& messages) {
    for (const Message& m : messages) {
      if (connected(m.from, m.to)) pending_.push_back(m);
    }
  }

  // Steps one message into its target now (cuts do not apply). Returns what step() returned.
  bool deliver(const Message& m, std::string* why = nullptr) {
    if (before_deliver) before_deliver(m);
    trace_.push_back(m);
    return core(m.to).step(m, why);
  }

  // Removes the pending messages matching `pred` and returns them, undelivered.
  std::vector<Message> take(const std::function<bool(const Message&)>& pred) {
    std::vector<Message> out;
    std::deque<Message> keep;
    for (Message& m : pending_) {
      if (pred(m)) {
        out.push_back(std::move(m));
      } else {
        keep.push_back(std::move(m));
      }
    }
    pending_ = std::move(keep);
    return out;
  }
  // Delivers the pending messages matching `pred`, in order (those across a cut are lost).
  size_t deliver_where(const std::function<bool(const Message&)>& pred) {
    size_t delivered = 0;
    for (const Message& m : take(pred)) {
      if (!connected(m.from, m.to)) continue;
      deliver(m);
      ++delivered;
    }
    return delivered;
  }
  void drop_all() { pending_.clear(); }

  // ---- ready processing ----

  // One ready()/advance() cycle on `id`; its messages go to the network.
  Ready cycle(NodeId id) {
    Ready rd = node(id).cycle();
    send(rd.messages);
    send(rd.messages_after_append);
    return rd;
  }
  // Completes `id`'s queued writes (Node::async_writes); the messages that waited go out.
  std::vector<Message> sync(NodeId id) {
    std::vector<Message> out = node(id).sync();
    send(out);
    return out;
  }
  // Drains `id`; returns the messages it sent (also queued on the network).
  std::vector<Message> process(NodeId id) {
    std::vector<Message> out = node(id).drain();
    send(out);
    return out;
  }
  void process_all() {
    for (NodeId id : ids()) process(id);
  }

  // Processes every node and delivers every message until the cluster is quiet. Ticks nothing,
  // so it always ends; a cluster that keeps talking after many rounds is a failure.
  void stabilize() {
    process_all();
    for (int round = 0; !pending_.empty(); ++round) {
      if (round == 1000) {
        ADD_FAILURE() << "cluster still sending messages after 1000 rounds";
        return;
      }
      deliver_where([](const Message&) { return true; });
      process_all();
    }
  }

  // ---- time ----

  // One tick on `id`, then its Ready is processed (messages queued, not delivered).
  void tick(NodeId id) {
    core(id).tick();
    process(id);
  }
  // `ticks` rounds of: every node ticks once, then the cluster stabilizes.
  void tick_all(int ticks) {
    for (int i = 0; i < ticks; ++i) {
      for (NodeId id : ids()) core(id).tick();
      stabilize();
    }
  }
  // Ticks `id` alone (without processing its Ready) until `pred` holds; returns the number of
  // ticks it took, or -1 if it did not happen within max_ticks.
  int tick_until(NodeId id, const std::function<bool()>& pred, int max_ticks) {
    for (int i = 1; i <= max_ticks; ++i) {
      core(id).tick();
      if (pred()) return i;
    }
    return -1;
  }
  bool tick_until_role(NodeId id, Role role, int max_ticks = 1000) {
    return tick_until(
               id, [&] { return core(id).role() == role; }, max_ticks) > 0;
  }

  // Makes `id` time out and campaign, then delivers only election traffic until it leads.
  // Other messages (the new leader's appends) are left pending for the test to handle.
  bool elect(NodeId id) {
    process_all();
    Core& c = core(id);
    if (c.role() == Role::kFollower &&
        tick_until(
            id, [&] { return c.role() != Role::kFollower; }, 10000) < 0) {
      return false;
    }
    for (int round = 0; round < 100 && c.role() != Role::kLeader; ++round) {
      process_all();
      deliver_where(is_election_message);
    }
    process_all();
    return c.role() == Role::kLeader;
  }

  // State Machine Safety (Figure 3): no two nodes ever applied different entries at the same
  // index, and of any two state machines one is a prefix of the other. Tests call it after
  // scenarios where a follower held a divergent log or installed a snapshot.
  void expect_state_machine_safety() {
    std::map<NodeId, std::map<Index, Entry>> by_index;
    for (NodeId a : ids()) {
      for (const Entry& e : node(a).applied()) {
        auto [it, inserted] = by_index[a].emplace(e.index, e);
        // A node whose state machine was rebuilt applies some entries again: the same ones.
        EXPECT_TRUE(inserted || it->second == e)
            << "node " << a << " applied two different entries at index " << e.index;
      }
    }
    for (NodeId a : ids()) {
      for (NodeId b : ids()) {
        if (a >= b) continue;
        for (const auto& [index, e] : by_index[a]) {
          auto it = by_index[b].find(index);
          if (it == by_index[b].end()) continue;
          EXPECT_TRUE(it->second == e)
              << "nodes " << a << " and " << b << " applied different entries at index " << index;
        }
        const auto& x = node(a).state();
        const auto& y = node(b).state();
        EXPECT_TRUE(std::equal(
            x.begin(), x.begin() + static_cast<long>(std::min(x.size(), y.size())), y.begin()))
            << "the state machines of nodes " << a << " and " << b << " diverge";
      }
    }
  }

  // The leader with the highest term, or kNoNode.
  NodeId leader() {
    NodeId best = kNoNode;
    for (NodeId id : ids()) {
      if (core(id).role() == Role::kLeader &&
          (best == kNoNode || core(id).term() > core(best).term())) {
        best = id;
      }
    }
    return best;
  }

 private:
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
  std::deque<Message> pending_;
  std::vector<Message> trace_;
  std::set<std::pair<NodeId, NodeId>> cuts_;
};

}  // namespace nomad::raft::test
