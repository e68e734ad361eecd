#pragma once

// Plain data that crosses the boundary of the consensus core: log entries, the state that
// must be durable, and the messages nodes exchange. No behaviour lives here.

#include <cstdint>
#include <string>
#include <vector>

namespace nomad::raft {

using NodeId = uint64_t;
using Term = uint64_t;
using Index = uint64_t;

// NodeId 0 means "nobody": no vote cast, no leader known.
inline constexpr NodeId kNoNode = 0;

enum class EntryType : uint8_t {
  kNormal = 0,      // an application command
  kNoop = 1,        // appended by every new leader so it can commit entries of earlier terms
  kConfChange = 2,  // a membership change (raft/membership.h): never an application command
};

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::kNormal;
  std::string data{};

  bool operator==(const Entry&) const = default;
};

// One server of the cluster's configuration (thesis chapter 4).
struct Member {
  NodeId id = kNoNode;
  bool voter = true;      // false: a learner (receives the log, never votes, never counted)
  std::string address{};  // "host:port" of its gRPC listener; opaque to the core

  bool operator==(const Member&) const = default;
};

// The cluster's configuration. Helpers live in raft/membership.cc.
struct Membership {
  std::vector<Member> members{};  // sorted by id, ids distinct and non-zero
  Index index = 0;                // log index of the entry that set it (0: bootstrap)

  bool is_member(NodeId id) const;
  bool is_voter(NodeId id) const;
  const Member* find(NodeId id) const;
  std::vector<NodeId> voters() const;
  size_t voter_count() const;
  bool empty() const { return members.empty(); }

  bool operator==(const Membership&) const = default;
};

// One change of the configuration: one server at a time (thesis §4.1).
struct ConfChange {
  enum class Kind : uint8_t { kAddLearner = 0, kPromote = 1, kRemove = 2 };
  Kind kind = Kind::kAddLearner;
  NodeId id = kNoNode;
  std::string address{};  // kAddLearner only

  bool operator==(const ConfChange&) const = default;
};

// What must be on stable storage before any message that depends on it is sent.
struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;

  bool operator==(const HardState&) const = default;
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

const char* role_name(Role role);
// The inverse of role_name: false (and *role untouched) for any other text.
bool role_from_name(const std::string& name, Role* role);

enum class MessageType : uint8_t {
  kPreVote,  // "would you vote for me in term+1?"; changes no one's term
  kPreVoteResponse,
  kVote,  // RequestVote
  kVoteResponse,
  kAppend,  // AppendEntries carrying entries (possibly none when probing)
  kAppendResponse,
  kHeartbeat,  // leader liveness plus commit index; carries no entries
  kHeartbeatResponse,
  kTimeoutNow,  // leadership transfer: "start an election now"
  kSnapshot,    // InstallSnapshot: one chunk of the leader's snapshot
  kSnapshotResponse,
};

const char* message_type_name(MessageType type);

struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;

  // kAppend: index and term of the entry preceding `entries` (the consistency check).
  // kVote / kPreVote: index and term of the candidate's last entry.
  // kAppendResponse (accepted): the highest index now known to match the leader.
  Index index = 0;
  Term log_term = 0;

  std::vector<Entry> entries{};

  // kAppend / kHeartbeat: the leader's commit index (capped for heartbeats to what the
  // follower is known to hold).
  Index commit = 0;

  // kAppend without entries that only carries a new commit index to a follower the leader
  // is streaming to: the follower answers it only with a refusal. The acknowledgements of
  // the appends that carried the entries already tell the leader all it needs, so answering
  // would cost a message each way per commit and nothing else.
  bool commit_only = false;

  // Responses: true when the request was refused.
  bool reject = false;

  // kAppendResponse with reject: the fast-backtracking hint. conflict_term is the term of
  // the follower's entry at the probed index (0 when its log is too short) and
  // conflict_index the first index the follower holds for that term (or its last index + 1).
  Term conflict_term = 0;
  Index conflict_index = 0;

  // kVote / kPreVote sent because the leader asked for a leadership transfer: voters grant
  // it even though they heard from that leader recently.
  bool transfer = false;

  // kSnapshot: `index` and `log_term` name the snapshot's last entry; `chunk` holds its bytes
  // from `offset` on; `done` marks the last chunk.
  // kSnapshotResponse: `index` names the snapshot; `offset` is how many bytes the follower
  // holds (where the next chunk must start); `done` says it is installed (or not needed).
  uint64_t offset = 0;
  std::string chunk{};
  bool done = false;

  // kSnapshot: the configuration as of the snapshot's last entry (the follower's log holds
  // no configuration entry once the snapshot replaces it).
  Membership membership{};
};

}  // namespace nomad::raft
