#include "node/snapshot_membership.h"

#include "raft/membership.h"

namespace nomad::node {
namespace {

constexpr unsigned char kTag = (15 << 3) | 2;  // field 15, length-delimited

}  // namespace

std::string membership_field(const raft::Membership& membership) {
  if (membership.empty()) return {};
  std::string bytes = raft::encode_membership(membership);
  std::string out(1, static_cast<char>(kTag));
  for (uint64_t n = bytes.size();; n >>= 7) {
    if (n < 0x80) {
      out += static_cast<char>(n);
      break;
    }
    out += static_cast<char>((n & 0x7f) | 0x80);
  }
  return out + bytes;
}

raft::Membership snapshot_membership(std::string_view data) {
  raft::Membership m;
  if (data.empty() || static_cast<unsigned char>(data[0]) != kTag) return m;
  uint64_t length = 0;
  size_t at = 1;
  for (int shift = 0; at < data.size() && shift < 35; shift += 7, ++at) {
    auto byte = static_cast<unsigned char>(data[at]);
    length |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      ++at;
      if (length > data.size() - at) return m;
      if (!raft::decode_membership(data.substr(at, length), &m)) return {};
      return m;
    }
  }
  return m;
}

}  // namespace nomad::node
