#pragma once

// Durations as people write them everywhere in nomad-lite: "500ms", "30s", "2m", "1h",
// also combined ("1m30s"). A bare number is rejected: its unit would be a guess.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace nomad {

using Millis = std::chrono::milliseconds;

// nullopt when `text` is not a duration; *error (if given) then says why.
std::optional<Millis> parse_duration(std::string_view text, std::string* error = nullptr);

// The shortest exact spelling: 1500ms -> "1.5s", 90000ms -> "1m30s", 0 -> "0s".
std::string format_duration(Millis duration);

}  // namespace nomad
