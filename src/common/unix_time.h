#pragma once

// Wall-clock time as the cluster records it: milliseconds since the Unix epoch, as every job's
// created/started/finished stamps and every command's `at_ms` carry it. For intervals and
// deadlines use std::chrono::steady_clock instead: the wall clock can jump.

#include <cstdint>

namespace nomad::common {

int64_t unix_now_ms();

}  // namespace nomad::common
