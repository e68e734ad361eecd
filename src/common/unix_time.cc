#include "common/unix_time.h"

#include <chrono>

namespace nomad::common {

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace nomad::common
