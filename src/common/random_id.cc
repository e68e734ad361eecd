#include "common/random_id.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <random>

namespace nomad::common {
namespace {

std::mt19937_64& generator() {
  thread_local std::mt19937_64 rng = [] {
    // A single 32-bit seed would give only 2^32 sequences: ids of different threads or nodes
    // would collide after about 65,000 seeds (the birthday bound). Eight words make it 2^256.
    std::random_device device;
    std::array<std::random_device::result_type, 8> words;
    for (auto& w : words) w = device();
    std::seed_seq seq(words.begin(), words.end());
    return std::mt19937_64(seq);
  }();
  return rng;
}

}  // namespace

std::string random_uuid() {
  std::mt19937_64& rng = generator();
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[40];
  snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
           static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
           static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string random_hex(size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::mt19937_64& rng = generator();
  std::string out;
  out.reserve(2 * bytes);
  uint64_t bits = 0;
  for (size_t i = 0; i < bytes; ++i) {
    if (i % 8 == 0) bits = rng();
    out += kHex[(bits >> 4) & 0xF];
    out += kHex[bits & 0xF];
    bits >>= 8;
  }
  return out;
}

std::chrono::milliseconds random_delay(std::chrono::milliseconds at_most) {
  return std::chrono::milliseconds(
      std::uniform_int_distribution<int64_t>(0, at_most.count())(generator()));
}

}  // namespace nomad::common
