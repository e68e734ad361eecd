#include "trace.h"

#include "raft/membership.h"

namespace nomad::sim {

namespace {

std::string id(raft::Index i, raft::Term t) { return std::to_string(i) + "@" + std::to_string(t); }

}  // namespace

std::string describe_entry(const raft::Entry& e) {
  std::string out = id(e.index, e.term);
  if (e.type == raft::EntryType::kNoop) return out + " noop";
  if (e.type == raft::EntryType::kConfChange) {
    raft::ConfChange change;
    if (!raft::decode_conf_entry(e.data, &change, nullptr)) return out + " conf (unreadable)";
    return out + " conf " + raft::conf_change_kind_name(change.kind) + " n" +
           std::to_string(change.id);
  }
  return out + " \"" + e.data + "\"";
}

std::string describe_entries(const std::vector<raft::Entry>& entries) {
  // Long batches are shortened to their ends: the indices say what is missing.
  constexpr size_t kHead = 4;
  std::string out = "[";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries.size() > 2 * kHead && i == kHead) {
      out += " ... ";
      i = entries.size() - kHead;
    } else if (i > 0) {
      out += " ";
    }
    out += id(entries[i].index, entries[i].term);
  }
  return out + "]";
}

std::string describe_message(const raft::Message& m) {
  using raft::MessageType;
  std::string out = raft::message_type_name(m.type);
  out += " n" + std::to_string(m.from) + "->n" + std::to_string(m.to);
  out += " term " + std::to_string(m.term);
  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      out += " last " + id(m.index, m.log_term);
      if (m.transfer) out += " transfer";
      break;
    case MessageType::kAppend:
      out += " prev " + id(m.index, m.log_term) + " commit " + std::to_string(m.commit);
      out += " entries " + describe_entries(m.entries);
      break;
    case MessageType::kHeartbeat:
      out += " commit " + std::to_string(m.commit);
      break;
    case MessageType::kAppendResponse:
      out += " index " + std::to_string(m.index);
      if (m.reject) {
        out += " hint " + id(m.conflict_index, m.conflict_term);
      }
      break;
    case MessageType::kSnapshot:
      out += " last " + id(m.index, m.log_term) + " offset " + std::to_string(m.offset) +
             " chunk " + std::to_string(m.chunk.size()) + " bytes";
      if (m.done) out += " done";
      break;
    case MessageType::kSnapshotResponse:
      out += " index " + std::to_string(m.index) + " offset " + std::to_string(m.offset);
      if (m.done) out += " done";
      break;
    default:
      break;
  }
  if (m.reject) out += " REJECT";
  return out;
}

}  // namespace nomad::sim
