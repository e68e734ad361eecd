// Little-endian integers in a byte string, as the WAL's records and the snapshot and backup
// files store them.
#pragma once

#include <cstdint>
#include <string>

namespace nomad::storage {

inline void put_u32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Into the 4 bytes at p (a record header being filled in place).
inline void put_u32_at(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

inline void put_u64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The first `bytes` bytes at p as a little-endian integer.
inline uint64_t get_le(const char* p, int bytes = 8) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

}  // namespace nomad::storage
