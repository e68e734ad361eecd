#include "common/duration.h"

#include <cctype>
#include <cstdint>

namespace nomad {

std::optional<Millis> parse_duration(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Millis> {
    if (error) {
      *error = "'" + std::string(text) + "' is not a duration: " + why +
               " (write it like 500ms, 30s, 2m, 1h or 7d)";
    }
    return std::nullopt;
  };
  if (text.empty()) return fail("it is empty");
  constexpr int64_t kMaxMillis = 100LL * 365 * 24 * 3'600'000;  // a century
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return fail("expected a number");
    int64_t value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value = value * 10 + (text[i++] - '0');
      if (value > 1'000'000'000'000) return fail("too large");
    }
    // An optional decimal fraction, as in "1.5s".
    int64_t fraction = 0, fraction_scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) {
        return fail("expected digits after '.'");
      }
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (fraction_scale >= 1'000'000) return fail("too many decimals");
        fraction = fraction * 10 + (text[i++] - '0');
        fraction_scale *= 10;
      }
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = 86'400'000;
    } else if (unit.empty()) {
      return fail("a unit is missing");
    } else {
      return fail("unknown unit '" + std::string(unit) + "'");
    }
    // Checked before the product, which would overflow: 10^12 days is 8.64 * 10^19 ms.
    if (value > kMaxMillis / scale) return fail("too large");
    if (fraction * scale % fraction_scale != 0) return fail("finer than a millisecond");
    total += value * scale + fraction * scale / fraction_scale;
    if (total > kMaxMillis) return fail("too large");
  }
  return Millis(total);
}

std::string format_duration(Millis duration) {
  int64_t ms = duration.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  if (ms < 1000) return out + std::to_string(ms) + "ms";
  int64_t h = ms / 3'600'000, m = ms / 60'000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s || rest) {
    out += std::to_string(s);
    if (rest) {
      std::string frac = std::to_string(1000 + rest).substr(1);
      while (frac.back() == '0') frac.pop_back();
      out += "." + frac;
    }
    out += "s";
  }
  return out;
}

}  // namespace nomad
