#include "state_machine.h"

#include <cinttypes>
#include <cstdio>
#include <functional>
#include <string_view>

namespace nomad::sim {

namespace {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t entry_data_hash(const raft::Entry& entry) {
  // The standard library's string hash reads 8 bytes at a time (byte-wise FNV-1a was a tenth of
  // the simulation's time); the type is mixed in so equal data of another type differs.
  const uint64_t data = std::hash<std::string_view>{}(entry.data);
  return mix64(data ^ (static_cast<uint64_t>(entry.type) + 0x9e3779b97f4a7c15ULL));
}

uint64_t chain_hash(uint64_t prev, raft::Index index, raft::Term term, uint64_t data_hash) {
  uint64_t z = mix64(prev + 0x9e3779b97f4a7c15ULL);
  z = mix64(z ^ index);
  z = mix64(z ^ term);
  return mix64(z ^ data_hash);
}

std::string StateMachine::snapshot(size_t padding) const {
  char head[64];
  std::snprintf(head, sizeof head, "state %" PRIu64 " %016" PRIx64 " ", applied, hash);
  std::string data = head;
  for (size_t i = 0; i < padding; ++i) data += static_cast<char>('a' + (applied + i) % 26);
  return data;
}

std::optional<StateMachine> StateMachine::restore(const std::string& data) {
  StateMachine sm;
  uint64_t applied = 0;
  uint64_t hash = 0;
  int consumed = 0;
  if (std::sscanf(data.c_str(), "state %" SCNu64 " %" SCNx64 " %n", &applied, &hash, &consumed) !=
          2 ||
      consumed == 0) {
    return std::nullopt;
  }
  // The filler must be intact too: a chunk lost or repeated in transfer changes it.
  for (size_t i = static_cast<size_t>(consumed); i < data.size(); ++i) {
    if (data[i] != static_cast<char>('a' + (applied + i - consumed) % 26)) return std::nullopt;
  }
  sm.applied = applied;
  sm.hash = hash;
  return sm;
}

}  // namespace nomad::sim
