#pragma once

// Plain-text tables for people: columns padded to their widest cell, two spaces apart, no
// trailing blanks. Widths count characters, not bytes, so UTF-8 text lines up.

#include <cstddef>
#include <string>
#include <vector>

namespace nomad::cli {

// Every row, a header included, is laid out alike; missing cells at a row's end are empty.
std::string render_table(const std::vector<std::vector<std::string>>& rows);

// Characters (UTF-8 code points) in `text`.
size_t display_width(const std::string& text);

// `text` on one line (newlines and tabs become spaces), cut to at most `width` characters
// with "..." at the end when it was longer.
std::string truncate(const std::string& text, size_t width);

}  // namespace nomad::cli
