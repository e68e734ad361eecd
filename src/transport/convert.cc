#include "transport/convert.h"

#include "raft/membership.h"

namespace nomad::transport {

void to_wire(const raft::Message& m, nomad_lite::RaftMessage* out) {
  out->set_type(static_cast<uint32_t>(m.type));
  out->set_from(m.from);
  out->set_to(m.to);
  out->set_term(m.term);
  out->set_index(m.index);
  out->set_log_term(m.log_term);
  out->set_commit(m.commit);
  out->set_reject(m.reject);
  out->set_conflict_term(m.conflict_term);
  out->set_conflict_index(m.conflict_index);
  out->set_transfer(m.transfer);
  out->set_offset(m.offset);
  out->set_chunk(m.chunk);
  out->set_done(m.done);
  out->set_commit_only(m.commit_only);
  if (!m.membership.empty()) out->set_membership(raft::encode_membership(m.membership));
  out->mutable_entries()->Reserve(static_cast<int>(m.entries.size()));
  for (const raft::Entry& e : m.entries) {
    auto* w = out->add_entries();
    w->set_term(e.term);
    w->set_index(e.index);
    w->set_type(static_cast<uint32_t>(e.type));
    w->set_data(e.data);
  }
}

bool from_wire(const nomad_lite::RaftMessage& w, raft::Message* m, std::string* why) {
  if (w.type() > static_cast<uint32_t>(raft::MessageType::kSnapshotResponse)) {
    *why = "unknown message type " + std::to_string(w.type());
    return false;
  }
  m->type = static_cast<raft::MessageType>(w.type());
  m->from = w.from();
  m->to = w.to();
  m->term = w.term();
  m->index = w.index();
  m->log_term = w.log_term();
  m->commit = w.commit();
  m->reject = w.reject();
  m->conflict_term = w.conflict_term();
  m->conflict_index = w.conflict_index();
  m->transfer = w.transfer();
  m->offset = w.offset();
  m->chunk = w.chunk();
  m->done = w.done();
  m->commit_only = w.commit_only();
  m->membership = {};
  if (!w.membership().empty()) {
    if (raft::Status s = raft::decode_membership(w.membership(), &m->membership); !s) {
      *why = s.message();
      return false;
    }
    if (m->membership.empty()) {
      *why = "membership field holds no members (leave it out instead)";
      return false;
    }
  }
  m->entries.clear();
  m->entries.reserve(static_cast<size_t>(w.entries_size()));
  for (const auto& e : w.entries()) {
    if (e.type() > static_cast<uint32_t>(raft::EntryType::kConfChange)) {
      *why = "unknown entry type " + std::to_string(e.type());
      return false;
    }
    m->entries.push_back({e.term(), e.index(), static_cast<raft::EntryType>(e.type()), e.data()});
  }
  return true;
}

}  // namespace nomad::transport
