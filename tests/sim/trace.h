#pragma once

// Human-readable one-line descriptions of what the simulation does, for --trace and for the
// details of a violation. Formatting is only done when someone will read it.

#include <string>
#include <vector>

#include "raft/types.h"

namespace nomad::sim {

// "Append n1->n2 term 3 index 10 log_term 3 commit 9 entries [11@3 12@3]"
std::string describe_message(const raft::Message& m);

// "12@3 noop" or "12@3 \"s7-p41\""
std::string describe_entry(const raft::Entry& e);

// "[11@3 12@3 13@4]", eliding the middle of long lists.
std::string describe_entries(const std::vector<raft::Entry>& entries);

}  // namespace nomad::sim
