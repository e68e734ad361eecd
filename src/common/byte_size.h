#pragma once

// Sizes as people write them on the command line and in requests: "256MiB", "1.5GiB",
// "512M" (M, G, K are taken as MiB, GiB, KiB, as Nomad and Docker read them), "64KB"
// (decimal), or a bare number of bytes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nomad {

// nullopt when `text` is not a size; *error (if given) then says why.
std::optional<uint64_t> parse_byte_size(std::string_view text, std::string* error = nullptr);

// For people: 268435456 -> "256 MiB", 1610612736 -> "1.5 GiB", 100 -> "100 B".
std::string format_byte_size(uint64_t bytes);

}  // namespace nomad
