// Membership helpers, the one-change-at-a-time rules and the byte formats (membership.h).

#include "raft/membership.h"

#include <algorithm>
#include <cstring>

namespace nomad::raft {

bool Membership::is_member(NodeId id) const { return find(id) != nullptr; }

bool Membership::is_voter(NodeId id) const {
  const Member* m = find(id);
  return m != nullptr && m->voter;
}

const Member* Membership::find(NodeId id) const {
  auto it = std::lower_bound(members.begin(), members.end(), id,
                             [](const Member& m, NodeId wanted) { return m.id < wanted; });
  return it != members.end() && it->id == id ? &*it : nullptr;
}

std::vector<NodeId> Membership::voters() const {
  std::vector<NodeId> ids;
  for (const Member& m : members) {
    if (m.voter) ids.push_back(m.id);
  }
  return ids;
}

size_t Membership::voter_count() const {
  return static_cast<size_t>(
      std::count_if(members.begin(), members.end(), [](const Member& m) { return m.voter; }));
}

const char* conf_change_kind_name(ConfChange::Kind kind) {
  switch (kind) {
    case ConfChange::Kind::kAddLearner:
      return "add-learner";
    case ConfChange::Kind::kPromote:
      return "promote";
    case ConfChange::Kind::kRemove:
      return "remove";
  }
  return "unknown";
}

Membership bootstrap_membership(const std::vector<NodeId>& voters,
                                const std::map<NodeId, std::string>& addresses) {
  Membership m;
  for (NodeId id : voters) {
    auto it = addresses.find(id);
    m.members.push_back({id, true, it == addresses.end() ? std::string() : it->second});
  }
  std::sort(m.members.begin(), m.members.end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
  return m;
}

Status check_conf_change(const Membership& current, const ConfChange& change) {
  std::string id = std::to_string(change.id);
  if (change.id == kNoNode) return Status::error("membership change: node id must be non-zero");
  switch (change.kind) {
    case ConfChange::Kind::kAddLearner:
      if (current.is_member(change.id)) {
        return Status::error("membership change: node " + id +
                             " is already a member; remove it first to re-add it");
      }
      if (change.address.size() > kMaxAddressBytes) {
        return Status::error("membership change: address of node " + id + " is longer than " +
                             std::to_string(kMaxAddressBytes) + " bytes");
      }
      if (current.members.size() >= kMaxMembers) {
        return Status::error("membership change: the cluster already has the maximum of " +
                             std::to_string(kMaxMembers) + " members");
      }
      return Status::ok();
    case ConfChange::Kind::kPromote:
      if (!current.is_member(change.id)) {
        return Status::error("membership change: node " + id + " is not a member; add it first");
      }
      if (current.is_voter(change.id)) {
        return Status::error("membership change: node " + id + " is already a voter");
      }
      return Status::ok();
    case ConfChange::Kind::kRemove:
      if (!current.is_member(change.id)) {
        return Status::error("membership change: node " + id + " is not a member");
      }
      if (current.is_voter(change.id) && current.voter_count() == 1) {
        return Status::error("membership change: node " + id +
                             " is the last voter; add and promote another node first");
      }
      return Status::ok();
  }
  return Status::error("membership change: unknown kind " +
                       std::to_string(static_cast<int>(change.kind)));
}

Membership apply_conf_change(const Membership& current, const ConfChange& change, Index index) {
  Membership next = current;
  next.index = index;
  auto it = std::lower_bound(next.members.begin(), next.members.end(), change.id,
                             [](const Member& m, NodeId wanted) { return m.id < wanted; });
  bool found = it != next.members.end() && it->id == change.id;
  switch (change.kind) {
    case ConfChange::Kind::kAddLearner:
      if (!found) next.members.insert(it, Member{change.id, false, change.address});
      break;
    case ConfChange::Kind::kPromote:
      if (found) it->voter = true;
      break;
    case ConfChange::Kind::kRemove:
      if (found) next.members.erase(it);
      break;
  }
  return next;
}

Status check_membership(const Membership& membership) {
  if (membership.members.size() > kMaxMembers) {
    return Status::error("membership: more than " + std::to_string(kMaxMembers) + " members");
  }
  NodeId previous = kNoNode;
  for (const Member& m : membership.members) {
    if (m.id == kNoNode) return Status::error("membership: a member has id 0");
    if (m.id <= previous) return Status::error("membership: member ids not sorted and distinct");
    if (m.address.size() > kMaxAddressBytes) {
      return Status::error("membership: address of node " + std::to_string(m.id) + " too long");
    }
    previous = m.id;
  }
  if (!membership.members.empty() && membership.voter_count() == 0) {
    return Status::error("membership: no voter");
  }
  return Status::ok();
}

namespace {

constexpr uint8_t kVersion = 1;

void put_u8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
void put_u32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_bytes(std::string* out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// Reads from a byte view; every read checks the bytes left and fails (sticky) when short.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  bool at_end() const { return bytes_.empty(); }
  size_t left() const { return bytes_.size(); }

  uint8_t u8() { return static_cast<uint8_t>(take(1, 0)); }
  uint32_t u32() { return static_cast<uint32_t>(take(4, 0)); }
  uint64_t u64() { return take(8, 0); }
  std::string bytes(size_t max) {
    uint32_t length = u32();
    if (!ok_ || length > max || length > bytes_.size()) {
      ok_ = false;
      return {};
    }
    std::string s(bytes_.substr(0, length));
    bytes_.remove_prefix(length);
    return s;
  }
  bool magic(const char* m) {
    size_t n = std::strlen(m);
    if (bytes_.size() < n || bytes_.substr(0, n) != m) return ok_ = false;
    bytes_.remove_prefix(n);
    return true;
  }

 private:
  uint64_t take(int n, uint64_t fallback) {
    if (!ok_ || bytes_.size() < static_cast<size_t>(n)) {
      ok_ = false;
      return fallback;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[i])) << (8 * i);
    bytes_.remove_prefix(static_cast<size_t>(n));
    return v;
  }
  std::string_view bytes_;
  bool ok_ = true;
};

void put_membership(std::string* out, const Membership& m) {
  out->append("NLMB");
  put_u8(out, kVersion);
  put_u64(out, m.index);
  put_u32(out, static_cast<uint32_t>(m.members.size()));
  for (const Member& member : m.members) {
    put_u64(out, member.id);
    put_u8(out, member.voter ? 1 : 0);
    put_bytes(out, member.address);
  }
}

Status read_membership(Reader* r, Membership* out) {
  if (!r->magic("NLMB")) return Status::error("membership bytes: missing the NLMB header");
  uint8_t version = r->u8();
  if (r->ok() && version != kVersion) {
    return Status::error("membership bytes: unknown version " + std::to_string(version));
  }
  Membership m;
  m.index = r->u64();
  uint32_t count = r->u32();
  if (!r->ok()) return Status::error("membership bytes: truncated header");
  // Each member takes at least 13 bytes: a count beyond what is left is a lie.
  if (count > kMaxMembers || count > r->left() / 13) {
    return Status::error("membership bytes: member count " + std::to_string(count) +
                         " is impossible");
  }
  m.members.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    Member member;
    member.id = r->u64();
    uint8_t voter = r->u8();
    member.address = r->bytes(kMaxAddressBytes);
    if (!r->ok()) return Status::error("membership bytes: truncated member");
    if (voter > 1) return Status::error("membership bytes: voter flag is neither 0 nor 1");
    member.voter = voter == 1;
    m.members.push_back(std::move(member));
  }
  if (Status s = check_membership(m); !s) return s;
  *out = std::move(m);
  return Status::ok();
}

}  // namespace

std::string encode_membership(const Membership& membership) {
  std::string out;
  put_membership(&out, membership);
  return out;
}

Status decode_membership(std::string_view bytes, Membership* out) {
  Reader r(bytes);
  Membership m;
  if (Status s = read_membership(&r, &m); !s) return s;
  if (!r.at_end()) return Status::error("membership bytes: trailing bytes after the members");
  *out = std::move(m);
  return Status::ok();
}

std::string encode_conf_entry(const ConfChange& change, const Membership& result) {
  std::string out;
  out.append("NLCC");
  put_u8(&out, kVersion);
  put_u8(&out, static_cast<uint8_t>(change.kind));
  put_u64(&out, change.id);
  put_bytes(&out, change.address);
  put_membership(&out, result);
  return out;
}

Status decode_conf_entry(std::string_view bytes, ConfChange* change, Membership* result) {
  Reader r(bytes);
  if (!r.magic("NLCC")) return Status::error("configuration entry: missing the NLCC header");
  uint8_t version = r.u8();
  if (r.ok() && version != kVersion) {
    return Status::error("configuration entry: unknown version " + std::to_string(version));
  }
  uint8_t kind = r.u8();
  ConfChange c;
  c.id = r.u64();
  c.address = r.bytes(kMaxAddressBytes);
  if (!r.ok()) return Status::error("configuration entry: truncated change");
  if (kind > static_cast<uint8_t>(ConfChange::Kind::kRemove)) {
    return Status::error("configuration entry: unknown change kind " + std::to_string(kind));
  }
  c.kind = static_cast<ConfChange::Kind>(kind);
  if (c.id == kNoNode) return Status::error("configuration entry: node id 0");
  Membership m;
  if (Status s = read_membership(&r, &m); !s) {
    return Status::error("configuration entry: " + s.message());
  }
  if (!r.at_end()) return Status::error("configuration entry: trailing bytes");
  if (change) *change = std::move(c);
  if (result) *result = std::move(m);
  return Status::ok();
}

}  // namespace nomad::raft
