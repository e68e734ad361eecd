// libFuzzer target: arbitrary bytes as a WAL segment must give a record, a torn tail or a
// clear error, never a crash, a hang or an out-of-bounds read.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "storage/segment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (bool last : {true, false}) {
    nomad::storage::SegmentReplay replay;
    replay.node_id = 1;
    replay.base = size % 3;  // sometimes a snapshot covers the first entries
    nomad::storage::replay_segment(bytes, "fuzz.wal", 1, last, &replay);
  }
  return 0;
}
