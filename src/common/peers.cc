#include "common/peers.h"

#include <charconv>
#include <set>
#include <sstream>

namespace nomad {
namespace {

bool parse_uint(const std::string& text, uint64_t max, uint64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out <= max;
}

}  // namespace

Status parse_peers(const std::string& text, uint64_t self_id, std::vector<PeerAddress>* out) {
  out->clear();
  if (text.empty()) return Status::ok();
  std::set<uint64_t> seen;
  std::stringstream items(text);
  std::string item;
  const char* format = " (expected id:host:port, e.g. 2:127.0.0.1:50052)";
  while (std::getline(items, item, ',')) {
    size_t first = item.find(':');
    size_t last = item.rfind(':');
    if (first == std::string::npos || first == last) {
      return Status::error("--peers: '" + item + "' is not a peer" + format);
    }
    PeerAddress peer;
    uint64_t port = 0;
    peer.host = item.substr(first + 1, last - first - 1);
    if (!parse_uint(item.substr(0, first), UINT64_MAX, &peer.id) || peer.id == 0) {
      return Status::error("--peers: '" + item + "' has no valid node id (a number from 1)" +
                           format);
    }
    if (!parse_uint(item.substr(last + 1), 65535, &port) || port == 0) {
      return Status::error("--peers: '" + item + "' has no valid port (1-65535)" + format);
    }
    if (peer.host.empty()) return Status::error("--peers: '" + item + "' has no host" + format);
    peer.port = static_cast<uint16_t>(port);
    if (peer.id == self_id) {
      return Status::error("--peers: '" + item + "' is this node's own id " +
                           std::to_string(self_id) + "; list only the other nodes");
    }
    if (!seen.insert(peer.id).second) {
      return Status::error("--peers: node id " + std::to_string(peer.id) +
                           " appears twice; every node needs its own id");
    }
    out->push_back(peer);
  }
  if (!text.empty() && text.back() == ',') {
    return Status::error("--peers: trailing comma in '" + text + "'" + format);
  }
  return Status::ok();
}

}  // namespace nomad
