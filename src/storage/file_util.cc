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

}  // namespace

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

Status write_all(int fd, std::string_view data, const std::string& path_for_errors) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("cannot write", path_for_errors);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

Status pwrite_all(int fd, std::string_view data, uint64_t offset,
                  const std::string& path_for_errors) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("cannot write", path_for_errors);
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
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
