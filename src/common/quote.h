#pragma once

// Bad input echoed in an error message: at most a short prefix of it, so that an answer
// never grows with what a client sent (a 10 KiB job id in a gRPC status would exceed a
// default client's 8 KiB metadata limit and turn NOT_FOUND into RESOURCE_EXHAUSTED).

#include <cstddef>
#include <string>
#include <string_view>

namespace nomad::common {

inline constexpr size_t kQuotedInputBytes = 64;

// `input` itself when it has at most `max` bytes, else its first `max` bytes (cut at a
// UTF-8 character boundary) followed by "… (N bytes)". Control bytes (NUL, newline, ...)
// show as \xNN, so a quoted value cannot break a log line or a terminal.
std::string quote_input(std::string_view input, size_t max = kQuotedInputBytes);

// `message` cut to at most `max` bytes (at a UTF-8 boundary, ending in "…"): the last line
// of defence for what goes into a gRPC status or an HTTP error body.
std::string bound_message(std::string message, size_t max);

}  // namespace nomad::common
