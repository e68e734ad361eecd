#pragma once

// Cluster membership (thesis chapter 4): the configuration's helpers, the rules for one change
// at a time, and the byte formats a configuration travels in (log entries, snapshots, the WAL,
// InstallSnapshot). Decoding refuses hostile bytes with an error; it never crashes.
//
// A configuration entry (EntryType::kConfChange) holds the change AND the whole configuration it
// results in, so any one such entry determines the membership on its own: a node restarting from
// its log needs no base configuration, and a truncated entry rolls back to the one before it.
//
// Formats (little-endian integers):
//   membership   "NLMB" u8 version=1 | u64 index | u32 count | count x member
//   member       u64 id | u8 voter (0/1) | u32 address length | address bytes
//   conf entry   "NLCC" u8 version=1 | u8 kind | u64 id | u32 address length | address |
//                membership (as above)

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "raft/status.h"
#include "raft/types.h"

namespace nomad::raft {

// The leader's view of one member, for `cluster members`.
struct MemberProgress {
  NodeId id = kNoNode;
  bool voter = true;
  std::string address{};
  Index match = 0;  // highest index known to be on that member (the leader: its durable end)
  Index next = 0;   // next index the leader sends it (the leader: last index + 1)
  bool recent_active = false;  // heard from within the current check-quorum window
  bool is_leader = false;
};

// A bootstrap configuration: every id a voter, addresses from `addresses` where given.
Membership bootstrap_membership(const std::vector<NodeId>& voters,
                                const std::map<NodeId, std::string>& addresses);

// Whether `change` may apply to `current`; the error says why not (adding an existing member,
// promoting a voter or a non-member, removing a non-member or the last voter, an empty or
// oversized address, id 0).
Status check_conf_change(const Membership& current, const ConfChange& change);
// `current` with `change` applied (check it first); `index` becomes the result's index.
Membership apply_conf_change(const Membership& current, const ConfChange& change, Index index);

// Whether a decoded configuration is well formed: ids non-zero, sorted and distinct, addresses
// of bounded size, at least one voter.
Status check_membership(const Membership& membership);

std::string encode_membership(const Membership& membership);
Status decode_membership(std::string_view bytes, Membership* out);

std::string encode_conf_entry(const ConfChange& change, const Membership& result);
// Decodes a kConfChange entry's data; `result` may be null when only the change is wanted.
Status decode_conf_entry(std::string_view bytes, ConfChange* change, Membership* result);

const char* conf_change_kind_name(ConfChange::Kind kind);

// Limits that keep a hostile configuration from exhausting memory.
inline constexpr size_t kMaxMembers = 1024;
inline constexpr size_t kMaxAddressBytes = 1024;

}  // namespace nomad::raft
