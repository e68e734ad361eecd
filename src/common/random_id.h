#pragma once

// Random identifiers made without coordination: job ids (the leader names a job before it is
// committed) and idempotency keys (a client names its submission before it knows the leader);
// and random delays, which spread out processes that would otherwise act in the same instant.
// 128 random bits each, from a per-thread generator seeded with 256 bits from the OS: two nodes,
// threads or processes never share a sequence, and a call costs no system call.

#include <chrono>
#include <cstddef>
#include <string>

namespace nomad::common {

// A version-4 UUID, lowercase: "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (y is 8, 9, a or b).
std::string random_uuid();

// `bytes` random bytes as 2 * `bytes` lowercase hex digits.
std::string random_hex(size_t bytes);

// Uniform in [0, at_most].
std::chrono::milliseconds random_delay(std::chrono::milliseconds at_most);

}  // namespace nomad::common
