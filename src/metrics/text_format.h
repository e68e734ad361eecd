#pragma once

// The pieces of Prometheus's text exposition format 0.0.4: escaping and numbers.

#include <cstdint>
#include <string>
#include <string_view>

namespace nomad::metrics {

// HELP text: backslash and newline escaped.
void append_escaped_help(std::string_view text, std::string* out);
// A label value: backslash, double quote and newline escaped.
void append_escaped_label_value(std::string_view text, std::string* out);
// A sample value: shortest round-trip decimal, NaN, +Inf or -Inf.
void append_number(double value, std::string* out);
void append_number(uint64_t value, std::string* out);
// Whether `name` is a valid metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*; no colon in labels).
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace nomad::metrics
