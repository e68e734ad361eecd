#include "storage/segment.h"

#include <algorithm>

#include "proto/wal.pb.h"
#include "storage/record.h"

namespace nomad::storage {

const char* const kDamageAdvice =
    "The log is damaged before its end, so committed entries may be lost; nomad-lite will not "
    "start on it. Restore this node's data directory from a backup, or move it aside and "
    "start the node empty so that its peers send it a fresh copy.";

namespace {

std::string where(const std::string& path, size_t offset) {
  return path + " at offset " + std::to_string(offset);
}

Status check_header(const wal::SegmentHeader& header, const std::string& path, uint64_t sequence,
                    const SegmentReplay& replay) {
  if (header.version() != kFormatVersion) {
    return Status::error("WAL " + path + " has format version " + std::to_string(header.version()) +
                         "; this nomad-lite reads " + std::to_string(kFormatVersion) +
                         ". Use a matching release.");
  }
  if (header.node_id() != replay.node_id) {
    return Status::error("WAL " + path + " belongs to node " + std::to_string(header.node_id()) +
                         ", not node " + std::to_string(replay.node_id) +
                         ": check --node-id, or give this node its own --data-dir");
  }
  if (header.cluster() != replay.cluster) {
    return Status::error("WAL " + path + " belongs to cluster '" + header.cluster() + "', not '" +
                         replay.cluster + "': check --peers, or give this node its own --data-dir");
  }
  if (header.sequence() != sequence) {
    return Status::error("WAL " + path + " has a header for segment " +
                         std::to_string(header.sequence()) + ". " + kDamageAdvice);
  }
  return Status::ok();
}

}  // namespace

SegmentOutcome replay_segment(std::string_view data, const std::string& path, uint64_t sequence,
                              bool last_segment, SegmentReplay* replay) {
  SegmentOutcome outcome;
  size_t offset = 0;
  bool saw_header = false;
  bool torn = false;
  auto bad = [&](const std::string& what) {
    outcome.status =
        Status::error("WAL " + where(path, offset) + ": " + what + ". " + kDamageAdvice);
    return outcome;
  };
  while (true) {
    ReadResult r = read_record(data, offset);
    if (r.status == ReadStatus::kEnd) break;
    if (r.status == ReadStatus::kTorn && last_segment) {
      // Counts the bytes written, not the reserved zeros after them (npos + 1 wraps to 0).
      size_t written_end = std::max(offset, data.find_last_not_of('\0') + 1);
      replay->warnings.push_back("WAL " + where(path, offset) + ": " + r.problem + "; cut off " +
                                 std::to_string(written_end - offset) +
                                 " bytes of an unfinished write");
      torn = true;
      break;
    }
    if (r.status != ReadStatus::kRecord) return bad(r.problem);

    if (!saw_header) {
      wal::SegmentHeader header;
      if (r.type != RecordType::kSegmentHeader ||
          !header.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
        return bad("segment does not start with a header");
      }
      if (replay->adopt_cluster) {
        replay->cluster = header.cluster();
        replay->adopt_cluster = false;
      }
      outcome.status = check_header(header, path, sequence, *replay);
      if (!outcome.status) return outcome;
      saw_header = true;
    } else if (r.type == RecordType::kHardState) {
      wal::HardState pb;
      if (!pb.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
        return bad("unreadable hard state");
      }
      replay->hard_state = {pb.term(), pb.vote(), pb.commit()};
    } else if (r.type == RecordType::kEntry) {
      wal::Entry pb;
      if (!pb.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size())) ||
          pb.type() > static_cast<uint32_t>(raft::EntryType::kConfChange) || pb.index() == 0) {
        return bad("unreadable entry");
      }
      raft::Index index = pb.index();
      raft::Index last = replay->base + replay->entries.size();
      replay->max_index = std::max(replay->max_index, index);
      if (index <= replay->base) {
        // Covered by the snapshot.
      } else if (index > last + 1) {
        return bad("entry " + std::to_string(index) + " follows entry " + std::to_string(last) +
                   " (a gap in the log)");
      } else {
        // At or below the last index: a follower replaced a conflicting suffix.
        replay->entries.resize(index - replay->base - 1);
        replay->entries.push_back({pb.term(), index, static_cast<raft::EntryType>(pb.type()),
                                   std::move(*pb.mutable_data())});
      }
    } else if (r.type == RecordType::kSnapshotInstalled) {
      wal::SnapshotInstalled pb;
      if (!pb.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
        return bad("unreadable snapshot record");
      }
      replay->entries.clear();
      replay->base = std::max<raft::Index>(replay->base, pb.index());
    } else {
      return bad("a second segment header");
    }
    offset = r.next_offset;
  }
  outcome.valid_bytes = offset;
  if (!saw_header) {
    if (!torn && !last_segment) {
      outcome.status = Status::error("WAL " + path + " is empty. " + kDamageAdvice);
      return outcome;
    }
    // Without a whole header nothing of this segment was ever durable.
    if (!torn) {
      replay->warnings.push_back("WAL " + path + " was empty (a crash while creating it); removed");
    }
    outcome.empty = true;
  }
  return outcome;
}

}  // namespace nomad::storage
