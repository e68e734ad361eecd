#include "storage/backup_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "storage/crc32c.h"
#include "storage/file_util.h"
#include "storage/le_bytes.h"

namespace nomad::storage {
namespace {

constexpr char kBackupMagic[] = "NLBACKUP";
constexpr size_t kBackupMagicSize = 8;
constexpr size_t kPreambleSize = kBackupMagicSize + 4 + 4 + 4;

void put_string(std::string* out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// Reads the metadata block field by field; any read past its end fails.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  bool u8(uint8_t* v) { return take(1, v); }
  bool u32(uint32_t* v) { return take(4, v); }
  bool u64(uint64_t* v) { return take(8, v); }
  bool string(std::string* out) {
    uint32_t n = 0;
    if (!u32(&n) || n > bytes_.size() - at_) return false;
    out->assign(bytes_.substr(at_, n));
    at_ += n;
    return true;
  }
  bool at_end() const { return at_ == bytes_.size(); }

 private:
  template <class T>
  bool take(size_t n, T* v) {
    if (n > bytes_.size() - at_) return false;
    *v = static_cast<T>(get_le(bytes_.data() + at_, static_cast<int>(n)));
    at_ += n;
    return true;
  }
  std::string_view bytes_;
  size_t at_ = 0;
};

std::string encode_metadata(const BackupHeader& h) {
  std::string m;
  put_u64(&m, h.index);
  put_u64(&m, h.term);
  put_u64(&m, static_cast<uint64_t>(h.created_at_ms));
  put_u64(&m, h.job_count);
  put_u64(&m, h.data_length);
  put_u32(&m, h.data_crc);
  put_string(&m, h.cluster_id);
  put_u32(&m, static_cast<uint32_t>(h.members.size()));
  for (const auto& member : h.members) {
    put_u64(&m, member.id);
    m.push_back(member.voter ? 1 : 0);
    put_string(&m, member.address);
  }
  return m;
}

bool decode_metadata(std::string_view bytes, BackupHeader* h) {
  Cursor c(bytes);
  uint64_t created = 0;
  uint32_t members = 0;
  if (!c.u64(&h->index) || !c.u64(&h->term) || !c.u64(&created) || !c.u64(&h->job_count) ||
      !c.u64(&h->data_length) || !c.u32(&h->data_crc) || !c.string(&h->cluster_id) ||
      !c.u32(&members) || members > kMaxBackupMembers) {
    return false;
  }
  h->created_at_ms = static_cast<int64_t>(created);
  h->members.clear();
  for (uint32_t i = 0; i < members; ++i) {
    BackupMember m;
    uint8_t voter = 0;
    if (!c.u64(&m.id) || !c.u8(&voter) || voter > 1 || !c.string(&m.address)) return false;
    m.voter = voter == 1;
    h->members.push_back(std::move(m));
  }
  return c.at_end();
}

}  // namespace

std::string encode_backup(BackupHeader header, std::string_view data) {
  header.version = kBackupFormatVersion;
  header.data_length = data.size();
  header.data_crc = crc32c(data.data(), data.size());
  std::string metadata = encode_metadata(header);
  std::string out(kBackupMagic, kBackupMagicSize);
  out.reserve(kPreambleSize + metadata.size() + data.size());
  put_u32(&out, header.version);
  put_u32(&out, static_cast<uint32_t>(metadata.size()));
  put_u32(&out, crc32c(metadata.data(), metadata.size()));
  out += metadata;
  out.append(data);
  return out;
}

Status decode_backup_header(std::string_view bytes, const std::string& name, BackupHeader* out,
                            size_t* data_offset) {
  auto damaged = [&name](const std::string& what) {
    return Status::error(
        name + " is damaged (" + what +
        "): take a new snapshot with 'operator snapshot save', or use another copy");
  };
  if (bytes.size() < kBackupMagicSize ||
      bytes.substr(0, kBackupMagicSize) != std::string_view(kBackupMagic)) {
    return Status::error(name +
                         " is not a nomad-lite snapshot file (it does not start with NLBACKUP); "
                         "'operator snapshot save FILE' makes one");
  }
  if (bytes.size() < kPreambleSize) {
    return Status::error(name + " is truncated: " + std::to_string(bytes.size()) +
                         " bytes, less than a snapshot file's header");
  }
  BackupHeader h;
  h.version = static_cast<uint32_t>(get_le(bytes.data() + kBackupMagicSize, 4));
  if (h.version != kBackupFormatVersion) {
    return Status::error(name + " has snapshot format version " + std::to_string(h.version) +
                         "; this nomad-lite reads version " + std::to_string(kBackupFormatVersion) +
                         ": use the nomad-lite release that saved it");
  }
  const auto meta_length = static_cast<uint32_t>(get_le(bytes.data() + kBackupMagicSize + 4, 4));
  const auto meta_crc = static_cast<uint32_t>(get_le(bytes.data() + kBackupMagicSize + 8, 4));
  if (meta_length > kMaxBackupMetadataBytes) {
    return damaged("its header claims " + std::to_string(meta_length) + " bytes of metadata");
  }
  if (bytes.size() - kPreambleSize < meta_length) {
    return Status::error(name + " is truncated: " + std::to_string(bytes.size()) +
                         " bytes, its header alone needs " +
                         std::to_string(kPreambleSize + meta_length));
  }
  std::string_view metadata = bytes.substr(kPreambleSize, meta_length);
  if (crc32c(metadata.data(), metadata.size()) != meta_crc) {
    return damaged("header checksum mismatch");
  }
  if (!decode_metadata(metadata, &h)) return damaged("unreadable header");
  const size_t offset = kPreambleSize + meta_length;
  const uint64_t have = bytes.size() - offset;
  if (have < h.data_length) {
    return Status::error(name + " is truncated: " + std::to_string(bytes.size()) +
                         " bytes of the " + std::to_string(offset + h.data_length) +
                         " its header announces (an interrupted copy?)");
  }
  if (have > h.data_length) {
    return damaged(std::to_string(have - h.data_length) + " bytes after the end of its data");
  }
  *out = std::move(h);
  *data_offset = offset;
  return Status::ok();
}

bool backup_data_intact(const BackupHeader& header, std::string_view bytes, size_t data_offset) {
  if (data_offset > bytes.size() || bytes.size() - data_offset != header.data_length) return false;
  return crc32c(bytes.data() + data_offset, header.data_length) == header.data_crc;
}

Status decode_backup(std::string_view bytes, const std::string& name, BackupHeader* header,
                     std::string* data) {
  BackupHeader h;
  size_t offset = 0;
  if (Status s = decode_backup_header(bytes, name, &h, &offset); !s) return s;
  if (!backup_data_intact(h, bytes, offset)) {
    return Status::error(name +
                         " is damaged (checksum mismatch in its data): take a new snapshot with "
                         "'operator snapshot save', or use another copy");
  }
  data->assign(bytes.substr(offset));
  *header = std::move(h);
  return Status::ok();
}

Status read_backup_file(const std::string& path, BackupHeader* header, std::string* data) {
  std::string bytes;
  if (Status s = read_file(path, &bytes); !s) return s;
  return decode_backup(bytes, path, header, data);
}

Status write_file_atomically(const std::string& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  fs::path target(path);
  std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  std::string temp = (fs::path(dir) / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    return Status::error("cannot create a temporary file in " + dir + ": " + strerror(errno));
  }
  Status s = write_all(fd, bytes, temp);
  if (s) s = sync_file(fd, /*data_only=*/false, temp);
  ::close(fd);
  if (s && ::rename(temp.c_str(), path.c_str()) != 0) {
    s = Status::error("cannot rename " + temp + " to " + path + ": " + strerror(errno));
  }
  if (!s) {
    ::unlink(temp.c_str());
    return s;
  }
  return sync_directory(dir);
}

}  // namespace nomad::storage
