#include "common/byte_size.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace nomad {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// Longest names first, so "MiB" is not read as "M" followed by junk.
constexpr Unit kUnits[] = {
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
    {"KB", 1000ull},
    {"MB", 1000000ull},
    {"GB", 1000000000ull},
    {"TB", 1000000000000ull},
    {"K", 1ull << 10},
    {"M", 1ull << 20},
    {"G", 1ull << 30},
    {"T", 1ull << 40},
    {"B", 1},
};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<uint64_t> fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_byte_size(std::string_view text, std::string* error) {
  const std::string quoted = "\"" + std::string(text.substr(0, 64)) + "\"";
  const char* usage = ": write a size such as 512MiB, 1.5GiB or 2G";
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return fail(error, quoted + " is not a size" + usage);
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || end != text.data() + digits) {
    return fail(error, quoted + " is not a size" + usage);
  }
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  uint64_t factor = 1;
  if (!unit.empty()) {
    const Unit* found = nullptr;
    for (const auto& u : kUnits) {
      if (equal_ignoring_case(unit, u.name)) {
        found = &u;
        break;
      }
    }
    if (!found) return fail(error, quoted + " has an unknown unit" + usage);
    factor = found->factor;
  }
  const double bytes = std::round(number * static_cast<double>(factor));
  if (!std::isfinite(bytes) || bytes >= 18446744073709551615.0) {
    return fail(error, quoted + " is too large a size");
  }
  return static_cast<uint64_t>(bytes);
}

std::string format_byte_size(uint64_t bytes) {
  static constexpr const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kNames)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0 || value == std::floor(value)) {
    std::snprintf(text, sizeof text, "%.0f %s", value, kNames[unit]);
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", std::floor(value * 10) / 10, kNames[unit]);
  }
  return text;
}

}  // namespace nomad
