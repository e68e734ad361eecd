#pragma once

// The --peers flag: "id:host:port,id:host:port,...".

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace nomad {

struct PeerAddress {
  uint64_t id = 0;
  std::string host;
  uint16_t port = 0;

  std::string address() const { return host + ":" + std::to_string(port); }
};

// Parses `text` (empty: no peers). Rejects malformed items, id 0, duplicate ids and
// `self_id` itself, each with a message that names the offending item.
Status parse_peers(const std::string& text, uint64_t self_id, std::vector<PeerAddress>* out);

}  // namespace nomad
