#pragma once

// CRC-32C (Castagnoli), the checksum of every WAL record. Uses the SSE4.2 instruction when the
// processor has it and a table otherwise; both give the same result.

#include <cstddef>
#include <cstdint>

namespace nomad::storage {

// Extends `crc` (0 to start) over data[0, size).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace nomad::storage
