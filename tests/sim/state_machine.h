#pragma once

// The replicated state machine of the simulation and the hashes the checker shares with it.
// The state is just how far the machine applied and a hash chained over every entry it
// applied, in order: two nodes agree on it exactly when they applied the same entries. That
// makes a snapshot checkable: its state must equal the committed prefix it claims to cover.

#include <cstdint>
#include <optional>
#include <string>

#include "raft/types.h"

namespace nomad::sim {

// Hash of an entry's type and data (FNV-1a): the checker compares hashes, not strings.
uint64_t entry_data_hash(const raft::Entry& entry);

// Hash of a log prefix ending at (index, term, data) from the hash of the prefix before it;
// order-sensitive, so equal hashes mean equal prefixes (up to 2^-64).
uint64_t chain_hash(uint64_t prev, raft::Index index, raft::Term term, uint64_t data_hash);

struct StateMachine {
  raft::Index applied = 0;
  uint64_t hash = 0;  // chain_hash over every applied entry

  void apply(const raft::Entry& entry) {
    hash = chain_hash(hash, entry.index, entry.term, entry_data_hash(entry));
    applied = entry.index;
  }

  // The snapshot's bytes: "state <applied> <hash>" then `padding` filler bytes, so that a
  // small chunk size splits it over several InstallSnapshot messages.
  std::string snapshot(size_t padding) const;
  // nullopt for bytes that are not such a snapshot.
  static std::optional<StateMachine> restore(const std::string& data);
};

}  // namespace nomad::sim
