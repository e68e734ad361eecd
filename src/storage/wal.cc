#include "storage/wal.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "metrics/registry.h"
#include "proto/wal.pb.h"
#include "storage/file_util.h"
#include "storage/record.h"
#include "storage/segment.h"

namespace nomad::storage {
namespace fs = std::filesystem;
namespace {

// One write of a group of records (before its sync), and one fdatasync.
metrics::Histogram& append_seconds() {
  static metrics::Histogram& h =
      metrics::default_registry()
          .histogram("nomad_lite_raft_wal_append_duration_seconds",
                     "Time to write one group of WAL records, before its sync.",
                     metrics::buckets::disk_seconds())
          .get();
  return h;
}

metrics::Histogram& fsync_seconds() {
  static metrics::Histogram& h =
      metrics::default_registry()
          .histogram("nomad_lite_raft_wal_fsync_duration_seconds",
                     "Time of one fdatasync of the WAL.", metrics::buckets::disk_seconds())
          .get();
  return h;
}

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

void encode_hard_state(const raft::HardState& hs, std::string* out) {
  wal::HardState pb;
  pb.set_term(hs.term);
  pb.set_vote(hs.vote);
  pb.set_commit(hs.commit);
  append_record(RecordType::kHardState, pb.SerializeAsString(), out);
}

// Gives a new segment its full size up front: fdatasync after writing into allocated space
// costs less than after appending, which must also make the new blocks and size durable.
Status reserve_segment(int fd, uint64_t bytes, const std::string& path, IoFaults* faults,
                       int* error_number) {
  int rc = 0;
  if (faults != nullptr && faults->reserve_error != 0) {
    errno = faults->reserve_error;
    rc = -1;
  } else {
    struct statfs fs_info {};
    // On tmpfs a reservation gains nothing and would pin memory.
    if (::fstatfs(fd, &fs_info) == 0 && fs_info.f_type == TMPFS_MAGIC) return Status::ok();
    do {
      rc = ::fallocate(fd, 0, 0, static_cast<off_t>(bytes));
    } while (rc != 0 && errno == EINTR);
  }
  // Where fallocate is not supported the segment simply grows as it is written.
  if (rc == 0 || errno == EOPNOTSUPP || errno == ENOSYS) return Status::ok();
  *error_number = errno;
  return Status::error("cannot reserve " + std::to_string(bytes) + " bytes for WAL segment " +
                       path + ": " + strerror(errno));
}

}  // namespace

Wal::Wal(std::string dir, WalOptions options) : dir_(std::move(dir)), options_(options) {}

Wal::~Wal() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<Wal> Wal::open(const std::string& dir, const WalOptions& options,
                               raft::Index snapshot_index, WalContents* contents, Status* status) {
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
  if (!status->is_ok()) {
    if (wal->out_of_space()) {
      *status = Status::error(status->message() + ". Free space on the disk that holds " + dir +
                              ", then start the node again.");
    }
    return nullptr;
  }
  *status = wal->sync();
  if (!status->is_ok()) return nullptr;
  return wal;
}

Status Wal::recover(raft::Index snapshot_index, WalContents* contents) {
  std::vector<std::pair<uint64_t, std::string>> files;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir_, ec)) {
    uint64_t sequence = 0;
    if (parse_segment_name(item.path().filename().string(), &sequence)) {
      files.emplace_back(sequence, item.path().string());
    }
  }
  if (ec) return Status::error("cannot list WAL directory " + dir_ + ": " + ec.message());
  std::sort(files.begin(), files.end());

  SegmentReplay replay;
  replay.node_id = options_.node_id;
  replay.cluster = options_.cluster;
  replay.adopt_cluster = options_.adopt_stored_cluster;
  replay.base = snapshot_index;

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

    replay.max_index = 0;
    SegmentOutcome outcome = replay_segment(data, path, sequence, last_file, &replay);
    if (!outcome.status) return outcome.status;
    if (outcome.empty) {
      fs::remove(path, ec);
      continue;
    }
    // Recovered segments are never written again: cut a torn write and the unused reserved
    // space, so that restarts do not leave full-size files behind.
    if (outcome.valid_bytes < data.size()) {
      if (Status s = truncate_file(path, outcome.valid_bytes); !s) return s;
    }
    segments_.push_back({sequence, path, replay.max_index});
  }

  // Segments written from now on name the cluster the directory already belonged to.
  if (!segments_.empty()) options_.cluster = replay.cluster;
  raft::Index last = replay.base + replay.entries.size();
  contents->hard_state = replay.hard_state;
  contents->entries = std::move(replay.entries);
  contents->warnings = std::move(replay.warnings);
  if (contents->hard_state.commit > last) {
    return Status::error("WAL in " + dir_ + " records commit index " +
                         std::to_string(contents->hard_state.commit) + " but its log ends at " +
                         std::to_string(last) + ". " + kDamageAdvice);
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
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    int error_number = errno;
    return failed_write(
        Status::error("cannot create WAL segment " + path + ": " + strerror(error_number)),
        error_number);
  }

  wal::SegmentHeader header;
  header.set_version(kFormatVersion);
  header.set_sequence(sequence);
  header.set_node_id(options_.node_id);
  header.set_cluster(options_.cluster);
  std::string start;
  append_record(RecordType::kSegmentHeader, header.SerializeAsString(), &start);
  // Every segment repeats the hard state, so deleting older segments never loses it.
  encode_hard_state(hard_state_, &start);

  int error_number = 0;
  Status s = reserve_segment(fd_, options_.segment_bytes, path, options_.faults, &error_number);
  if (s) s = pwrite_all(fd_, start, 0, path, options_.faults, &error_number);
  if (!s) {
    // Leave nothing behind, so that the next write retries the same segment.
    ::close(fd_);
    fd_ = -1;
    ::unlink(path.c_str());
    return failed_write(s, error_number);
  }
  segments_.push_back({sequence, path, 0});
  current_bytes_ = start.size();
  dir_sync_pending_ = true;  // the new name must be durable too
  return Status::ok();
}

Status Wal::write(const std::optional<raft::HardState>& hard_state,
                  const std::vector<raft::Entry>& entries) {
  if (!sync_error_.is_ok()) return sync_error_;
  // Rolling over only once the reserved space is used up leaves no zeros to cut. No open
  // segment: creating the last one failed, so it is tried again.
  if (fd_ < 0 || current_bytes_ >= options_.segment_bytes) {
    if (Status s = start_segment(); !s) return s;
  }
  const raft::HardState old_hard_state = hard_state_;
  const raft::Index old_last_index = last_index_;
  const raft::Index old_max_index = segments_.back().max_index;
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
  Status s = write_buffer();
  if (!s) {
    hard_state_ = old_hard_state;
    last_index_ = old_last_index;
    segments_.back().max_index = old_max_index;
  }
  return s;
}

Status Wal::write_snapshot_installed(raft::Index index, raft::Term term) {
  if (!sync_error_.is_ok()) return sync_error_;
  if (fd_ < 0) {
    if (Status s = start_segment(); !s) return s;
  }
  wal::SnapshotInstalled pb;
  pb.set_index(index);
  pb.set_term(term);
  append_record(RecordType::kSnapshotInstalled, pb.SerializeAsString(), &buffer_);
  if (Status s = write_buffer(); !s) return s;
  // Segments before this one hold only void entries now.
  segments_.back().max_index = std::max(segments_.back().max_index, index);
  last_index_ = index;
  return Status::ok();
}

Status Wal::write_buffer() {
  const std::string& path = segments_.back().path;
  int error_number = 0;
  const auto started = std::chrono::steady_clock::now();
  Status s = pwrite_all(fd_, buffer_, current_bytes_, path, options_.faults, &error_number);
  append_seconds().observe(std::chrono::steady_clock::now() - started);
  const size_t size = buffer_.size();
  buffer_.clear();
  if (s) {
    current_bytes_ += size;
    out_of_space_ = false;
    return s;
  }
  // A write cut short may have left some of its records. Cut the segment back to its last
  // whole record: a retry (perhaps shorter) must never be followed by stale bytes, which
  // replay would take for damage. The cut is made durable at once, for the same reason.
  if (::ftruncate(fd_, static_cast<off_t>(current_bytes_)) != 0) {
    int e = errno;
    return failed_write(Status::error(s.message() + "; then cannot cut " + path +
                                      " back to its last whole record: " + strerror(e)),
                        0);
  }
  if (options_.fsync) {
    if (Status synced = sync_file(fd_, /*data_only=*/false, path, options_.faults); !synced) {
      sync_error_ = synced;
      return failed_write(synced, 0);
    }
  }
  return failed_write(s, error_number);
}

Status Wal::failed_write(Status status, int error_number) {
  out_of_space_ = is_out_of_space(error_number);
  return status;
}

Status Wal::sync() {
  if (!sync_error_.is_ok()) return sync_error_;
  if (!options_.fsync || fd_ < 0) return Status::ok();
  const auto started = std::chrono::steady_clock::now();
  Status synced = sync_file(fd_, /*data_only=*/true, segments_.back().path, options_.faults);
  fsync_seconds().observe(std::chrono::steady_clock::now() - started);
  if (!synced) {
    sync_error_ = synced;
    return synced;
  }
  if (dir_sync_pending_) {
    if (Status s = sync_directory(dir_); !s) {
      sync_error_ = s;
      return s;
    }
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
