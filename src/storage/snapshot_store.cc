#include "storage/snapshot_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "storage/crc32c.h"
#include "storage/file_util.h"
#include "storage/le_bytes.h"

namespace nomad::storage {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[] = "NLSNAP1\n";
constexpr char kMagicWithMembership[] = "NLSNAP2\n";
constexpr size_t kMagicSize = 8;
constexpr size_t kHeaderSize = kMagicSize + 8 + 8 + 8 + 4;
constexpr size_t kMembershipHeaderSize = 4 + 4;  // after kHeaderSize in NLSNAP2

std::string file_name(raft::Index index, raft::Term term) {
  char name[64];
  snprintf(name, sizeof(name), "snap-%016llx-%016llx.snap", static_cast<unsigned long long>(index),
           static_cast<unsigned long long>(term));
  return name;
}

bool parse_name(const std::string& name, raft::Index* index) {
  unsigned long long i = 0, t = 0;
  char tail[8] = {};
  if (name.size() != 43 || sscanf(name.c_str(), "snap-%16llx-%16llx.%4s", &i, &t, tail) != 3 ||
      std::string(tail) != "snap") {
    return false;
  }
  *index = i;
  return true;
}

// Snapshot files in `dir`, oldest first.
std::vector<std::pair<raft::Index, std::string>> list(const std::string& dir) {
  std::vector<std::pair<raft::Index, std::string>> out;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    raft::Index index = 0;
    if (parse_name(item.path().filename().string(), &index)) {
      out.emplace_back(index, item.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Status SnapshotStore::save(raft::Index index, raft::Term term, const raft::Membership& membership,
                           std::string_view data, bool fsync, bool* out_of_space) {
  int error_number = 0;
  auto failed = [&](Status s) {
    if (out_of_space) *out_of_space = is_out_of_space(error_number);
    return s;
  };
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    error_number = ec.value();
    return failed(Status::error("cannot create snapshot directory " + dir_ + ": " + ec.message()));
  }

  // Without a configuration the file stays in the first format, which older versions read.
  std::string header(membership.empty() ? kMagic : kMagicWithMembership, kMagicSize);
  put_u64(&header, index);
  put_u64(&header, term);
  put_u64(&header, data.size());
  put_u32(&header, crc32c(data.data(), data.size()));
  if (!membership.empty()) {
    std::string encoded = raft::encode_membership(membership);
    put_u32(&header, static_cast<uint32_t>(encoded.size()));
    put_u32(&header, crc32c(encoded.data(), encoded.size()));
    header += encoded;
  }

  std::string final_path = (fs::path(dir_) / file_name(index, term)).string();
  std::string temp_path = final_path + ".tmp";
  int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error_number = errno;
    return failed(Status::error("cannot create " + temp_path + ": " + strerror(error_number)));
  }
  Status s = write_all(fd, header, temp_path, faults_, &error_number);
  if (s) s = write_all(fd, data, temp_path, faults_, &error_number);
  // The temporary file is thrown away if its fsync fails, so nothing relies on what the
  // kernel kept of it: unlike the WAL's, this failure need not stop the node.
  if (s && fsync) s = sync_file(fd, /*data_only=*/false, temp_path, faults_);
  ::close(fd);
  if (!s) {
    ::unlink(temp_path.c_str());  // a half-written file would only take space
    return failed(s);
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    error_number = errno;
    ::unlink(temp_path.c_str());
    return failed(Status::error("cannot rename " + temp_path + ": " + strerror(error_number)));
  }
  if (fsync) {
    if (Status d = sync_directory(dir_); !d) return failed(d);
  }
  for (const auto& [older, path] : list(dir_)) {
    if (older < index) fs::remove(path, ec);
  }
  return Status::ok();
}

Status SnapshotStore::load_latest(std::optional<Snapshot>* out) const {
  out->reset();
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return Status::ok();
  auto files = list(dir_);
  if (files.empty()) return Status::ok();
  const std::string& path = files.back().second;
  std::string bytes;
  if (Status s = read_file(path, &bytes); !s) return s;
  auto damaged = [&path](const std::string& what) {
    return Status::error("snapshot " + path + " is damaged (" + what +
                         "). Restore this node's data directory from a backup, or move it aside "
                         "and start the node empty so that its peers send it a fresh copy.");
  };
  bool with_membership =
      bytes.size() >= kMagicSize && bytes.compare(0, kMagicSize, kMagicWithMembership) == 0;
  if (bytes.size() < kHeaderSize ||
      (!with_membership && bytes.compare(0, kMagicSize, kMagic) != 0)) {
    return damaged("bad header");
  }
  Snapshot snap;
  snap.index = get_le(bytes.data() + kMagicSize);
  snap.term = get_le(bytes.data() + kMagicSize + 8);
  uint64_t length = get_le(bytes.data() + kMagicSize + 16);
  auto crc = static_cast<uint32_t>(get_le(bytes.data() + kMagicSize + 24, 4));
  size_t data_start = kHeaderSize;
  if (with_membership) {
    if (bytes.size() < kHeaderSize + kMembershipHeaderSize) return damaged("bad header");
    uint64_t membership_length = get_le(bytes.data() + kHeaderSize, 4);
    auto membership_crc = static_cast<uint32_t>(get_le(bytes.data() + kHeaderSize + 4, 4));
    data_start = kHeaderSize + kMembershipHeaderSize;
    if (membership_length > bytes.size() - data_start) return damaged("membership length");
    std::string_view encoded(bytes.data() + data_start, membership_length);
    if (crc32c(encoded.data(), encoded.size()) != membership_crc) {
      return damaged("membership checksum mismatch");
    }
    if (raft::Status s = raft::decode_membership(encoded, &snap.membership); !s) {
      return damaged(s.message());
    }
    if (snap.membership.empty()) return damaged("empty membership in a NLSNAP2 file");
    data_start += membership_length;
  }
  if (length != bytes.size() - data_start) return damaged("length mismatch");
  snap.data = bytes.substr(data_start);
  if (crc32c(snap.data.data(), snap.data.size()) != crc) return damaged("checksum mismatch");
  if (file_name(snap.index, snap.term) != fs::path(path).filename().string()) {
    return damaged("header does not match the file name");
  }
  *out = std::move(snap);
  return Status::ok();
}

}  // namespace nomad::storage
