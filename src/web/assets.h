#pragma once

// The dashboard's files (web/), embedded in the binary at build time by
// cmake/embed_assets.cmake: the dashboard needs no files on disk and no network.

#include <string_view>

namespace nomad::web {

struct Asset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

// The asset served at `path` ("/" is "/index.html"), or nullptr.
const Asset* find_asset(std::string_view path);

}  // namespace nomad::web
