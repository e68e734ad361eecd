#pragma once

// The Raft consensus core: a pure, single-threaded, deterministic state machine.
//
// It owns no thread, socket, file or clock. The application drives it with
//   tick()            one unit of logical time (10 ms in a server),
//   step(message)     a message from a peer,
//   propose(commands) new commands, on the leader,
// and then collects its output with ready(), then calls advance() once it took the Ready:
//   - Ready::messages may be sent at once;
//   - Ready::snapshot, Ready::hard_state and Ready::entries are queued for stable storage,
//     in the order of the Readys; writes may be grouped (one sync for several Readys);
//   - Ready::messages_after_append are sent only once this Ready's writes and every earlier
//     Ready's are durable;
//   - Ready::committed is applied in order (each entry is durable on a majority and on this
//     node: see "Applying" below).
// Persistence is asynchronous: several Readys may be in storage at once, and the core goes on
// stepping, ticking and handing out Readys meanwhile. The application says what became durable
// with persisted(index, term); a failed write is persist_failed(). No other call may come
// between ready() and advance().
//
// Which message goes in which list is the core's decision, never the application's: a leader's
// appends, heartbeats, snapshot chunks and TimeoutNow, and pre-vote requests, promise nothing
// about this node's disk and leave at once (thesis §10.2.1); the leader counts its own copy of
// new entries toward a commit only once persisted() reports it. Votes, vote requests, answers
// to appends, heartbeats and snapshots promise durable state and leave after the append.
//
// Applying: Ready::committed holds only entries this node has itself made durable (up to
// persisted()), as etcd-io/raft does with asynchronous storage writes. A follower could apply
// entries committed elsewhere before its own write is done, but then its state machine (and a
// snapshot of it) would run ahead of its own log, which a crash would leave with a gap; waiting
// for the local write costs a follower a little apply latency and the leader nothing (its
// commit already waits for its own write).
//
// Modelled on etcd-io/raft; every rule cites the section of the Raft paper (Ongaro &
// Ousterhout, "In Search of an Understandable Consensus Algorithm") or thesis it enforces.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/log.h"
#include "raft/membership.h"
#include "raft/progress.h"
#include "raft/rng.h"
#include "raft/status.h"
#include "raft/types.h"

namespace nomad::raft {

// Deliberate protocol violations, switched on only by tests that prove the simulation's
// invariants checker can catch real bugs. Never set in a server.
struct PlantedBugs {
  bool grant_second_vote = false;              // vote again in a term already voted in
  bool commit_previous_term_by_count = false;  // ignore the current-term commit rule
  bool truncate_on_stale_append = false;       // cut the log after prev_index unconditionally
  bool count_own_unsynced_entries = false;     // a leader counts entries not yet durable here
  bool send_vote_before_durable = false;       // a granted vote leaves before it is on disk
  bool allow_concurrent_conf_changes = false;  // accept a change while another is uncommitted
  bool count_learners_in_quorum = false;       // a learner's copy counts toward a commit
  bool read_index_without_heartbeat = false;   // a leader answers reads without a quorum round
};

struct Config {
  NodeId id = kNoNode;
  std::vector<NodeId> voters;  // every voting member at bootstrap, this node included
  // Optional gRPC addresses of the bootstrap voters, carried in the bootstrap membership.
  std::map<NodeId, std::string> addresses;
  // A node joining a running cluster: it starts with no membership (voters empty), never
  // campaigns until it is a voter, and learns its configuration from the leader's log or
  // snapshot.
  bool join = false;
  // The leader promotes a learner by itself once the learner's log is within this many entries
  // of its own (thesis §4.2.1).
  Index promote_lag = 64;

  // An election starts after a random number of ticks in [election_ticks, 2*election_ticks)
  // without hearing from a leader; a leader sends heartbeats every heartbeat_ticks.
  int election_ticks = 15;
  int heartbeat_ticks = 5;

  bool pre_vote = true;      // §9.6 of the thesis: do not disrupt a healthy leader
  bool check_quorum = true;  // §6.2: a leader that lost its majority steps down

  size_t max_entries_per_append = 4096;
  // An append carries at most this many bytes of entry data (at least one entry): the
  // transport's message limit (transport/channel_args.h) is sized from it.
  size_t max_bytes_per_append = 4 << 20;
  size_t max_inflight_appends = 256;
  size_t max_committed_per_ready = 8192;
  size_t snapshot_chunk_bytes = 1 << 20;  // InstallSnapshot sends the snapshot in such chunks

  uint64_t seed = 1;  // election-timeout randomness; the same seed replays the same run

  PlantedBugs bugs;

  // Whether this configuration can run: a member id, this node among the voters (or no voters
  // at all with `join`), no duplicate or zero voter, positive timings with heartbeats more frequent
  // than elections, and non-zero limits. The error names the field and what it must be.
  Status validate() const;
};

// A snapshot of the application's state machine covering the log up to `index`.
struct Snapshot {
  Index index = 0;
  Term term = 0;
  std::shared_ptr<const std::string> data;
  // The configuration as of `index` (empty: none known, e.g. a snapshot written before
  // membership was stored; the bootstrap configuration then applies).
  Membership membership{};
};

// What a restarting node read back from stable storage.
struct RestoredState {
  HardState hard_state;
  std::vector<Entry> entries;  // contiguous, starting right after the snapshot
  Index snapshot_index = 0;
  Term snapshot_term = 0;
  // The snapshot's bytes, which the leader sends to followers that fell behind it.
  std::shared_ptr<const std::string> snapshot_data;
  // Entries up to here are already reflected in the state machine the application restored.
  Index applied = 0;
  // The configuration stored with the snapshot (empty when none was). Configuration entries in
  // `entries` override it; with neither, Config::voters is the bootstrap configuration.
  Membership snapshot_membership{};
};

// What changed in the node's leadership view since the last Ready that reported it.
struct SoftState {
  Role role = Role::kFollower;
  NodeId leader = kNoNode;
  Term term = 0;

  bool operator==(const SoftState&) const = default;
};

// The answer to read_index(): reads that see the state machine at `index` or later are
// linearizable (thesis §6.4). ok = false: no leader could confirm it (none known, leadership
// lost meanwhile); ask again later.
struct ReadState {
  uint64_t request_id = 0;
  Index index = 0;
  bool ok = false;

  bool operator==(const ReadState&) const = default;
};

struct Ready {
  // A snapshot received from the leader, to be handled before everything else: make it
  // durable, record in the log that the log now starts after it, and restore the state
  // machine from it. `committed` continues after it.
  std::optional<Snapshot> snapshot;
  // Set when role, leader or term changed since the last Ready that carried one.
  std::optional<SoftState> soft_state;
  // Persist when set, after every earlier Ready's writes.
  std::optional<HardState> hard_state;
  // Append to the stable log, first discarding any stored entries at or after
  // entries.front().index (a conflicting suffix the core has replaced).
  std::vector<Entry> entries;
  // May be sent at once, before any write is durable.
  std::vector<Message> messages;
  // Sent only once this Ready's writes (and every earlier Ready's) are durable; discarded if
  // one of those writes fails.
  std::vector<Message> messages_after_append;
  // Apply to the state machine in order; each is handed out exactly once.
  std::vector<Entry> committed;
  // Set when the effective configuration changed since the last Ready that carried one (an
  // appended or truncated configuration entry, an installed snapshot), so the application can
  // update its peers' addresses. The first Ready always carries it.
  std::optional<Membership> membership;
  // Whether the write must be synced before `messages_after_append` leave: new entries, a new
  // term or a new vote. A commit index alone need not be durable (a restarted node learns it
  // again from the leader), so a Ready that only moves it costs no fsync.
  bool must_sync = false;
  // Answers to read_index(), in no particular order.
  std::vector<ReadState> read_states;

  // The write this Ready asks for, if any.
  bool has_writes() const { return snapshot || hard_state || !entries.empty(); }
  bool empty() const {
    return !snapshot && !soft_state && !hard_state && entries.empty() && messages.empty() &&
           messages_after_append.empty() && committed.empty() && !membership && read_states.empty();
  }
};

struct ProposeResult {
  bool accepted = false;
  Term term = 0;
  Index first_index = 0;  // index of the first proposed entry when accepted
  Index last_index = 0;
  NodeId leader_hint = kNoNode;  // when refused: the leader this node knows of, if any
};

class Core {
 public:
  // Throws std::invalid_argument with validate()'s message for a configuration that cannot
  // run: call Config::validate() first to report it as an error instead.
  explicit Core(Config config, RestoredState restored = {});

  // Advances logical time by one tick: drives election timeouts, heartbeats and the
  // check-quorum window.
  void tick();

  // Feeds a message from a peer. Messages not addressed to this node, from non-members or
  // internally inconsistent ones are dropped; returns false then, with the reason in *why.
  bool step(const Message& message, std::string* why = nullptr);

  // Appends commands to the log when this node is a leader (all or none of them).
  ProposeResult propose(std::vector<std::string> commands);
  ProposeResult propose(std::string command);

  // Appends a configuration change (thesis §4.1) when this node is the leader. Refused
  // (accepted == false, the reason in *why) when another change is appended but not yet
  // committed, when the change does not fit the configuration (check_conf_change), or during a
  // leadership transfer. An added server joins as a learner; the leader promotes it itself once
  // it caught up (Config::promote_lag).
  ProposeResult propose_conf_change(const ConfChange& change, std::string* why = nullptr);

  // Asks the leader to hand leadership to `target` (§3.10 of the thesis). Returns false if this
  // node is not leader or the target is not a voter.
  bool transfer_leadership(NodeId target);

  // Asks for a linearizable read index (thesis §6.4), answered through Ready::read_states
  // under `request_id` (the application's; unique among its pending reads). A leader answers
  // with its commit index once a heartbeat round shows a majority still follows it (and only
  // after it committed an entry of its own term); a follower asks the leader. Serve the read
  // once the state machine applied up to the answer's index. (read_index.cc)
  void read_index(uint64_t request_id);

  // The application took a snapshot of its state machine at `index` (<= applied index):
  // entries up to it are discarded, and the snapshot is what followers that need them get.
  // Returns false, changing nothing, if `index` is not in (snapshot index, applied index].
  bool compact(Index index, std::shared_ptr<const std::string> data);
  const Snapshot& snapshot() const { return snapshot_; }

  bool has_ready() const;
  Ready ready();
  // The application took the last Ready: its writes are queued (in order behind every earlier
  // Ready's), its messages handed on, its committed entries applied or queued to apply.
  void advance();

  // The application's writes are durable up to log index `index`, whose entry has `term`: the
  // entries, and every hard state and snapshot handed out with them and before. Reporting the
  // last entry of a group of writes covers the whole group. A report whose entry has since
  // been replaced (a later Ready cut the log there) is ignored, as is one beyond what was
  // handed out; returns whether the report moved anything. A Ready without entries needs no
  // report: only its messages_after_append depend on its write, and the application holds
  // them. Only now does a leader count its own copy toward a commit, and only now are the
  // entries handed out to apply.
  bool persisted(Index index, Term term);
  // The durable end of the log, as persisted() reported it.
  Index persisted_index() const { return log_.stable(); }

  // A write failed (the disk is full). Every write handed out and not yet reported durable is
  // lost: the application discards what was queued behind the failed one, with its
  // messages_after_append (to Raft, lost messages); committed entries it already applied stay
  // applied. A snapshot in a discarded write is the application's to persist before anything
  // else it writes. Called between Readys (after advance()).
  // A node that cannot persist cannot keep Raft's promises, so until storage_recovered() it
  // takes no part: a leader steps down and asks its most up-to-date peer to take over at once
  // (TimeoutNow), every message is dropped, proposals are refused, it never campaigns, and
  // ready() hands out nothing to persist. What it could not persist stays in memory.
  void persist_failed();
  // The application's storage may work again: the next Ready hands out again everything not
  // yet durable (entries after persisted_index() and the hard state), and the node takes part
  // as a follower. If that write fails too, the application calls persist_failed() again.
  void storage_recovered();
  bool storage_failed() const { return storage_failed_; }

  // Observers.
  // The effective configuration: the latest appended (not necessarily committed) one.
  const Membership& membership() const { return membership_; }
  // The configuration in force at `index`: the latest configuration entry at or below it, else
  // the snapshot's, else the bootstrap one.
  Membership membership_at(Index index) const;
  // Leader only (empty otherwise): every member's replication progress, this node included.
  std::vector<MemberProgress> member_progress() const;
  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId leader_id() const { return leader_; }
  Index commit_index() const { return log_.committed(); }
  Index applied_index() const { return log_.applied(); }
  const RaftLog& log() const { return log_; }
  const Config& config() const { return config_; }
  // The leader's view of each peer (empty on other roles).
  const std::map<NodeId, Progress>& progress() const { return progress_; }
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  size_t quorum() const { return membership_.voter_count() / 2 + 1; }

 private:
  // Role transitions (core.cc).
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void reset_election_timer();
  bool is_voter(NodeId id) const;
  void send(Message message);
  // Whether `message` may leave before this node's queued writes are durable.
  bool may_leave_at_once(const Message& message) const;
  SoftState soft_state() const { return {role_, leader_, term_}; }
  // API misuse by the application: throws std::logic_error naming `what`.
  void require(bool condition, const char* what) const;

  // Elections (election.cc).
  void tick_election();
  void campaign(bool pre_vote, bool transfer);
  void handle_vote_request(const Message& m);
  void handle_vote_response(const Message& m);
  bool in_leader_lease() const;

  // Leader side of replication (replication.cc).
  void tick_heartbeat();
  void send_append(NodeId to, bool even_if_empty, bool commit_only = false);
  void broadcast_append();
  // After the commit index moved: what carries it to a follower in kReplicate without new
  // entries is marked commit_only (no acknowledgement comes back).
  void broadcast_commit();
  void broadcast_heartbeat();
  void handle_append_response(const Message& m);
  void handle_heartbeat_response(const Message& m);
  bool maybe_commit();
  bool check_quorum_active();
  void send_snapshot_chunk(NodeId to);
  void handle_snapshot_response(const Message& m);

  // Linearizable reads (read_index.cc).
  struct PendingRead {
    uint64_t request_id = 0;
    NodeId from = kNoNode;  // kNoNode: this node's application asked
    Index index = 0;        // the commit index when it was registered
    uint64_t round = 0;     // the heartbeat round that must be confirmed
  };
  void handle_read_index(const Message& m);
  void handle_read_index_response(const Message& m);
  // A heartbeat answer echoing `round` from `from`: may confirm rounds and release reads.
  void note_read_ack(NodeId from, uint64_t round);
  // Registers deferred reads once an entry of this term is committed, starts a round.
  void advance_reads();
  void answer_read(const PendingRead& read, Index index);
  // On every role or term change: pending reads fail (forwarded ones too).
  void abandon_reads();
  bool committed_in_term() const;

  // Follower side of replication (follower.cc).
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_timeout_now(const Message& m);
  void handle_snapshot(const Message& m);
  bool validate_append(const Message& m, std::string* why) const;

  Config config_;
  Rng rng_;
  RaftLog log_;

  Term term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId leader_ = kNoNode;
  Role role_ = Role::kFollower;

  int election_elapsed_ = 0;   // ticks since the last valid leader contact or election start
  int heartbeat_elapsed_ = 0;  // leader: ticks since the last heartbeat
  int randomized_election_timeout_ = 0;

  std::map<NodeId, bool> votes_;         // candidate: responses this round
  std::map<NodeId, Progress> progress_;  // leader: every voter except this node
  NodeId transfer_target_ = kNoNode;     // leader: transfer in progress
  int transfer_elapsed_ = 0;

  // Reads (read_index.cc). The leader runs one heartbeat round at a time; reads that arrive
  // meanwhile wait for the next round.
  std::vector<PendingRead> deferred_reads_;  // leader: before an entry of its term committed
  std::vector<PendingRead> pending_reads_;   // leader: waiting for their round
  uint64_t read_round_ = 0;                  // leader: the last round its heartbeats carry
  uint64_t confirmed_round_ = 0;             // leader: the last round a majority answered
  std::map<NodeId, uint64_t> read_acks_;     // leader: the last round each peer answered
  std::vector<uint64_t> forwarded_reads_;    // follower: ids asked of the leader
  std::vector<ReadState> read_states_;       // handed out by the next ready()

  Snapshot snapshot_;  // the latest snapshot: compacted locally or installed from the leader
  // A snapshot arriving from the leader, chunk by chunk.
  Index incoming_index_ = 0;
  Term incoming_term_ = 0;
  std::string incoming_bytes_;
  std::optional<Snapshot> snapshot_to_install_;  // handed out by the next ready()

  std::vector<Message> outbox_;               // messages that may leave at once
  std::vector<Message> outbox_after_append_;  // messages that wait for the pending writes
  HardState handed_hard_state_;               // last hard state handed out through ready()
  bool rehand_hard_state_ = false;            // a write failed: hand the hard state out again
  SoftState handed_soft_state_;               // last soft state reported through ready()
  bool storage_failed_ = false;               // between persist_failed() and storage_recovered()
  bool ready_outstanding_ = false;
  Index ready_handed_to_ = 0;   // handed index once the outstanding ready is taken
  Index ready_applied_to_ = 0;  // applied index once the outstanding ready is taken

  // Membership (membership.cc / conf_change.cc).
  // Recomputes membership_ from the latest configuration entry in the log, else the
  // snapshot's, else the bootstrap one; notes a change for the next Ready.
  void refresh_membership();

  // Leader: adds progress for new members, drops removed ones.
  void sync_progress();
  // Leader: a configuration entry is in the log above the commit index.
  bool conf_change_pending() const;
  // A leader about to step down: TimeoutNow to the voter holding the most of its log, so the
  // cluster need not wait out an election timeout (§3.10 of the thesis).
  void hand_off_to_most_up_to_date_voter();
  // Leader: proposes promoting caught-up learners; steps down once its own removal committed.
  void maybe_advance_membership();
  Membership bootstrap_;            // from Config::voters / addresses (empty with join)
  Membership membership_;           // effective: latest appended
  bool membership_changed_ = true;  // hand membership_ out with the next Ready
};

}  // namespace nomad::raft
