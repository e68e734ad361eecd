#include "storage/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "storage/file_util.h"
#include "storage/record.h"
#include "wal.pb.h"

namespace nomad::storage {
namespace fs = std::filesystem;
namespace {

constexpr uint32_t kFormatVersion = 1;

std::string segment_name(uint64_t sequence) {
  char name[32];
  snprintf(name, sizeof(name), "%016llx.wal", static_cast<unsigned long long>(sequence));
  return name;
}

bool parse_segment_name(const std::string& name, uint64_t* sequence) {
  if (name.size() != 20 || name.substr(16) != ".wal") return false;
  char* end = nullptr;
  *sequence = strtoull(name.c_str(), &end, 16);
  return end == name.c_str() + 16;
}

const char* kDamageAdvice =
    "The log is damaged before its end, so committed entries may be lost; nomad-lite will not "
    "start on it. Restore this node's data directory from a backup, or move it aside and "
    "start the node empty so that its peers send it a fresh copy.";

std::string where(const std::string& path, size_t offset) {
  return path + " at offset " + std::to_string(offset);
}

void encode_hard_state(const raft::HardState& hs, std::string* out) {
  wal::HardState pb;
  pb.set_term(hs.term);
  pb.set_vote(hs.vote);
  pb.set_commit(hs.commit);
  append_record(RecordType::kHardState, pb.SerializeAsString(), out);
}

}  // namespace

Wal::Wal(std::string dir, WalOptions options) : dir_(std::move(dir)), options_(options) {}

Wal::~Wal() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<Wal> Wal::open(const std::string& dir, const WalOptions& options,
                               raft::Index snapshot_index, WalContents* contents,
                               Status* status) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    *status = Status::error("cannot create WAL directory " + dir + ": " + ec.message());
    return nullptr;
  }
  std::unique_ptr<Wal> wal(new Wal(dir, options));
  *contents = WalContents{};
  *status = wal->recover(snapshot_index, contents);
  if (!status->is_ok()) return nullptr;
  // Appends go to a fresh segment: the recovered ones are never written again, which keeps
  // a cut-off tail from ever being followed by new data in the same file.
  *status = wal->start_segment();
  if (!status->is_ok()) return nullptr;
  *status = wal->sync();
  if (!status->is_ok()) return nullptr;
  return wal;
}

Status Wal::recover(raft::Index snapshot_index, WalContents* contents) {
  std::vector<std::pair<uint64_t, std::string>> files;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir_, ec)) {
    uint64_t sequence;
    if (parse_segment_name(item.path().filename().string(), &sequence)) {
      files.emplace_back(sequence, item.path().string());
    }
  }
  if (ec) return Status::error("cannot list WAL directory " + dir_ + ": " + ec.message());
  std::sort(files.begin(), files.end());

  raft::Index base = snapshot_index;  // entries hold indices base+1 ...
  std::vector<raft::Entry>& entries = contents->entries;
  bool have_hard_state = false;

  for (size_t f = 0; f < files.size(); ++f) {
    const auto& [sequence, path] = files[f];
    bool last_file = f + 1 == files.size();
    if (f > 0 && sequence != files[f - 1].first + 1) {
      return Status::error("WAL segment " + segment_name(files[f - 1].first + 1) +
                           " is missing (found " + files[f - 1].second + " and then " + path +
                           "). " + kDamageAdvice);
    }
    std::string data;
    if (Status s = read_file(path, &data); !s) return s;

    Segment segment{sequence, path, 0};
    size_t offset = 0;
    bool saw_header = false;
    while (true) {
      ReadResult r = read_record(data, offset);
      if (r.status == ReadStatus::kEnd) break;
      if (r.status == ReadStatus::kTorn && last_file) {
        contents->warnings.push_back("WAL " + where(path, offset) + ": " + r.problem +
                                     "; cut off " + std::to_string(data.size() - offset) +
                                     " bytes of an unfinished write");
        if (Status s = truncate_file(path, offset); !s) return s;
        break;
      }
      if (r.status != ReadStatus::kRecord) {
        return Status::error("WAL " + where(path, offset) + ": " + r.problem + ". " +
                             kDamageAdvice);
      }
      auto bad = [&](const std::string& what) {
        return Status::error("WAL " + where(path, offset) + ": " + what + ". " + kDamageAdvice);
      };
      if (!saw_header) {
        wal::SegmentHeader header;
        if (r.type != RecordType::kSegmentHeader || !header.ParseFromString(std::string(r.payload))) {
          return bad("segment does not start with a header");
        }
        if (header.version() != kFormatVersion) {
          return Status::error("WAL " + path + " has format version " +
                               std::to_string(header.version()) + "; this nomad-lite reads " +
                               std::to_string(kFormatVersion) + ". Use a matching release.");
        }
        if (header.node_id() != options_.node_id) {
          return Status::error("WAL " + path + " belongs to node " +
                               std::to_string(header.node_id()) + ", not node " +
                               std::to_string(options_.node_id) +
                               ": check --node-id, or give this node its own --data-dir");
        }
        if (header.sequence() != sequence) return bad("segment header names another sequence");
        saw_header = true;
      } else if (r.type == RecordType::kHardState) {
        wal::HardState pb;
        if (!pb.ParseFromString(std::string(r.payload))) return bad("unreadable hard state");
        contents->hard_state = {pb.term(), pb.vote(), pb.commit()};
        have_hard_state = true;
      } else if (r.type == RecordType::kEntry) {
        wal::Entry pb;
        if (!pb.ParseFromString(std::string(r.payload)) || pb.type() > 1) {
          return bad("unreadable entry");
        }
        raft::Index index = pb.index();
        segment.max_index = std::max(segment.max_index, index);
        if (index <= base) {
          // Covered by the snapshot.
        } else if (index > base + entries.size() + 1) {
          return bad("entry " + std::to_string(index) + " follows entry " +
                     std::to_string(base + entries.size()) + " (a gap in the log)");
        } else {
          // At or below the last index: the follower replaced a conflicting suffix.
          entries.resize(index - base - 1);
          entries.push_back({pb.term(), index, static_cast<raft::EntryType>(pb.type()),
                             std::move(*pb.mutable_data())});
        }
      } else {
        return bad("unexpected record type in the middle of a segment");
      }
      offset = r.next_offset;
    }
    if (!saw_header) {
      if (!last_file) return Status::error("WAL " + path + " is empty. " + kDamageAdvice);
      // Created but never written: the crash came right after the file was made.
      contents->warnings.push_back("WAL " + path + " was empty (crash while creating it); removed");
      fs::remove(path, ec);
      continue;
    }
    segments_.push_back(segment);
  }

  raft::Index last = base + entries.size();
  if (have_hard_state && contents->hard_state.commit > last) {
    return Status::error("WAL in " + dir_ + " records commit index " +
                         std::to_string(contents->hard_state.commit) +
                         " but its log ends at " + std::to_string(last) + ". " + kDamageAdvice);
  }
  hard_state_ = contents->hard_state;
  last_index_ = last;
  return Status::ok();
}

Status Wal::start_segment() {
  if (fd_ >= 0) {
    if (Status s = sync(); !s) return s;
    ::close(fd_);
    fd_ = -1;
  }
  uint64_t sequence = segments_.empty() ? 1 : segments_.back().sequence + 1;
  std::string path = (fs::path(dir_) / segment_name(sequence)).string();
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::error("cannot create WAL segment " + path + ": " + strerror(errno));
  segments_.push_back({sequence, path, 0});
  current_bytes_ = 0;
  dir_sync_pending_ = true;  // the new name must be durable too

  wal::SegmentHeader header;
  header.set_version(kFormatVersion);
  header.set_sequence(sequence);
  header.set_node_id(options_.node_id);
  append_record(RecordType::kSegmentHeader, header.SerializeAsString(), &buffer_);
  // Every segment repeats the hard state, so deleting older segments never loses it.
  encode_hard_state(hard_state_, &buffer_);
  return write_buffer();
}

Status Wal::write(const std::optional<raft::HardState>& hard_state,
                  const std::vector<raft::Entry>& entries) {
  if (current_bytes_ >= options_.segment_bytes) {
    if (Status s = start_segment(); !s) return s;
  }
  wal::Entry pb;
  for (const raft::Entry& e : entries) {
    pb.set_term(e.term);
    pb.set_index(e.index);
    pb.set_type(static_cast<uint32_t>(e.type));
    pb.set_data(e.data);
    append_record(RecordType::kEntry, pb.SerializeAsString(), &buffer_);
    segments_.back().max_index = std::max(segments_.back().max_index, e.index);
    last_index_ = e.index;
  }
  if (hard_state) {
    hard_state_ = *hard_state;
    encode_hard_state(*hard_state, &buffer_);
  }
  return write_buffer();
}

Status Wal::write_buffer() {
  if (Status s = write_all(fd_, buffer_, segments_.back().path); !s) return s;
  current_bytes_ += buffer_.size();
  buffer_.clear();
  return Status::ok();
}

Status Wal::sync() {
  if (!options_.fsync) return Status::ok();
  if (::fdatasync(fd_) != 0) {
    return Status::error("fdatasync of " + segments_.back().path + " failed: " + strerror(errno));
  }
  if (dir_sync_pending_) {
    if (Status s = sync_directory(dir_); !s) return s;
    dir_sync_pending_ = false;
  }
  return Status::ok();
}

Status Wal::release_to(raft::Index index) {
  size_t removable = 0;
  while (removable + 1 < segments_.size() && segments_[removable].max_index <= index) {
    ++removable;
  }
  for (size_t i = 0; i < removable; ++i) {
    if (::unlink(segments_[i].path.c_str()) != 0 && errno != ENOENT) {
      return Status::error("cannot delete WAL segment " + segments_[i].path + ": " +
                           strerror(errno));
    }
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(removable));
  if (removable > 0 && options_.fsync) return sync_directory(dir_);
  return Status::ok();
}

}  // namespace nomad::storage
