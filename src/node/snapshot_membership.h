#pragma once

// The cluster's configuration as of a snapshot travels inside the snapshot's bytes, so that a
// node restarting from a snapshot (its own or one the leader installed) knows its members
// after the log before it was compacted away. The bytes are the job store's
// JobStoreSnapshot with field 15 (`membership`, src/raft/membership.h's format) put first:
// protobuf reads fields in any order, so the job store restores from them unchanged, and the
// configuration is read back without parsing the jobs.

#include <string>
#include <string_view>

#include "raft/types.h"

namespace nomad::node {

// The field to put ahead of the job store's bytes ("" for an empty configuration).
std::string membership_field(const raft::Membership& membership);

// The configuration at the front of a snapshot's bytes; empty when there is none (a snapshot
// written before configurations were kept) or it does not decode.
raft::Membership snapshot_membership(std::string_view data);

}  // namespace nomad::node
