#pragma once

// The client's --addr flag: one or more servers, comma separated, each written
// "http://host:port" (as in the seed) or plain "host:port".

#include <string>
#include <vector>

#include "common/status.h"

namespace nomad::cli {

inline constexpr const char* kDefaultAddress = "http://127.0.0.1:50051";

// Fills *out with "host:port" targets in the given order. A missing port means 50051;
// "https://" is refused (the API has no TLS), as are empty items.
Status parse_addresses(const std::string& text, std::vector<std::string>* out);

}  // namespace nomad::cli
