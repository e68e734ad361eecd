#include "worker/cgroup_files.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <system_error>

#include "common/errno_text.h"

namespace nomad::worker::cgroup_files {

namespace fs = std::filesystem;

bool read_text(const fs::path& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out->append(buf, static_cast<size_t>(n));
    if (out->size() > (1 << 20)) break;
  }
  int saved = errno;
  ::close(fd);
  errno = saved;
  return n >= 0 || !out->empty();
}

bool read_number(const fs::path& path, uint64_t* value) {
  std::string text;
  if (!read_text(path, &text)) return false;
  try {
    size_t used = 0;
    *value = std::stoull(text, &used);
    return used > 0;
  } catch (const std::exception&) {
    return false;
  }
}

// One write of `text` to a control file, as the kernel wants it; "" or what failed.
std::string write_control(const fs::path& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path.string() + ": " + common::errno_text(errno);
  ssize_t n;
  while ((n = ::write(fd, text.data(), text.size())) < 0 && errno == EINTR) {
  }
  int saved = n < 0 ? errno : EIO;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    std::string error =
        "cannot write '" + text + "' to " + path.string() + ": " + common::errno_text(saved);
    errno = saved;  // the caller may look at it (EBUSY)
    return error;
  }
  return "";
}

bool path_exists(const fs::path& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool read_keyed_value(std::string_view text, std::string_view key, uint64_t* value) {
  for (const std::string& line : split(text, '\n')) {
    if (line.size() <= key.size() || !line.starts_with(key) || line[key.size()] != ' ') continue;
    try {
      *value = std::stoull(line.substr(key.size() + 1));
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

std::vector<pid_t> listed_processes(const fs::path& dir) {
  std::vector<pid_t> pids;
  std::string text;
  if (!read_text(dir / "cgroup.procs", &text)) return pids;
  std::istringstream in(text);
  for (long pid; in >> pid;) {
    if (pid > 0) pids.push_back(static_cast<pid_t>(pid));
  }
  return pids;
}

bool kill_listed(const fs::path& dir) {
  std::vector<pid_t> pids = listed_processes(dir);
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  return pids.empty();
}

}  // namespace nomad::worker::cgroup_files
