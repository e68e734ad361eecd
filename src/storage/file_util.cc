#include "storage/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nomad::storage {
namespace {

Status os_error(const std::string& what, const std::string& path) {
  return Status::error(what + " " + path + ": " + strerror(errno));
}

// How many of `size` bytes an injected full disk lets through; sets errno when it cuts.
size_t allowed_bytes(IoFaults* faults, size_t size) {
  if (faults == nullptr || size <= faults->space_left) return size;
  errno = ENOSPC;
  return static_cast<size_t>(faults->space_left);
}

// Writes `data` with `write_some` (one write or pwrite call at `offset`), retrying short
// writes and EINTR, and honouring injected faults.
template <class WriteSome>
Status write_loop(std::string_view data, uint64_t offset, const std::string& path, IoFaults* faults,
                  int* error_number, WriteSome write_some) {
  while (!data.empty()) {
    size_t allowed = allowed_bytes(faults, data.size());
    ssize_t n = allowed == 0 ? -1 : write_some(data.data(), allowed, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (error_number) *error_number = errno;
      return os_error("cannot write", path);
    }
    if (faults) faults->space_left -= static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::ok();
}

}  // namespace

bool is_out_of_space(int error_number) { return error_number == ENOSPC || error_number == EDQUOT; }

Status read_file(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return os_error("cannot stat", path);
  }
  out->resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n = ::read(fd, out->data() + done, out->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return os_error("cannot read", path);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::ok();
}

Status write_all(int fd, std::string_view data, const std::string& path_for_errors,
                 IoFaults* faults, int* error_number) {
  return write_loop(data, 0, path_for_errors, faults, error_number,
                    [fd](const char* p, size_t n, uint64_t) { return ::write(fd, p, n); });
}

Status pwrite_all(int fd, std::string_view data, uint64_t offset,
                  const std::string& path_for_errors, IoFaults* faults, int* error_number) {
  return write_loop(data, offset, path_for_errors, faults, error_number,
                    [fd](const char* p, size_t n, uint64_t at) {
                      return ::pwrite(fd, p, n, static_cast<off_t>(at));
                    });
}

Status sync_file(int fd, bool data_only, const std::string& path_for_errors, IoFaults* faults) {
  int rc;
  if (faults != nullptr && faults->sync_error != 0) {
    errno = faults->sync_error;
    rc = -1;
  } else {
    rc = data_only ? ::fdatasync(fd) : ::fsync(fd);
  }
  if (rc != 0) {
    return Status::error(std::string(data_only ? "fdatasync" : "fsync") + " of " + path_for_errors +
                         " failed: " + strerror(errno));
  }
  return Status::ok();
}

Status truncate_file(const std::string& path, size_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
    return os_error("cannot truncate", path);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return os_error("cannot open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return os_error("cannot fsync", path);
  return Status::ok();
}

Status sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return os_error("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return os_error("cannot fsync directory", dir);
  return Status::ok();
}

}  // namespace nomad::storage
