#include "common/quote.h"

#include <cstdio>

namespace nomad::common {
namespace {

// The largest n <= max such that text[0, n) does not end inside a UTF-8 sequence.
size_t utf8_cut(std::string_view text, size_t max) {
  if (text.size() <= max) return text.size();
  size_t n = max;
  // Step back over continuation bytes (10xxxxxx) to the start of the character cut in two.
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace

std::string quote_input(std::string_view input, size_t max) {
  std::string_view shown = input.substr(0, utf8_cut(input, max));
  std::string out;
  out.reserve(shown.size() + 24);
  for (char c : shown) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  if (shown.size() < input.size()) {
    out += "\xE2\x80\xA6 (" + std::to_string(input.size()) + " bytes)";
  }
  return out;
}

std::string bound_message(std::string message, size_t max) {
  if (message.size() <= max) return message;
  const std::string ellipsis = "\xE2\x80\xA6";
  size_t keep = max > ellipsis.size() ? max - ellipsis.size() : 0;
  message.resize(utf8_cut(message, keep));
  message += ellipsis;
  return message;
}

}  // namespace nomad::common
