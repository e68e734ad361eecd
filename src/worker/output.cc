#include "worker/output.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <system_error>

namespace nomad::worker {

namespace {

std::string human_size(uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

}  // namespace

std::string truncation_marker(uint64_t cap) {
  return "\n[nomad-lite: output truncated at " + human_size(cap) + "]\n";
}

OutputSink::~OutputSink() { close(); }

void OutputSink::write(std::string_view data) {
  if (capped_ || data.empty()) return;
  uint64_t room = cap_ - kept_;
  if (data.size() <= room) {
    if (append(data)) kept_ += data.size();
    return;
  }
  if (append(data.substr(0, room))) kept_ += room;
  capped_ = true;
  append(truncation_marker(cap_));
}

bool OutputSink::append(std::string_view data) {
  // The tail is kept whatever the disk says: a full disk costs the file, not the tail that
  // the finish record replicates.
  seen_ += data.size();
  if (tail_bytes_ > 0) {
    tail_.append(data);
    if (tail_.size() > 2 * tail_bytes_) tail_.erase(0, tail_.size() - tail_bytes_);
  }
  if (!write_error_.empty()) return false;
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      write_error_ =
          "cannot create " + path_.string() + ": " + std::system_category().message(errno);
      return false;
    }
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_error_ = "cannot write " + path_.string() + ": " +
                     std::system_category().message(n < 0 ? errno : ENOSPC);
      break;
    }
    done += static_cast<size_t>(n);
  }
  written_ += done;
  return done == data.size();
}

std::string OutputSink::tail() const {
  if (tail_.size() <= tail_bytes_) return tail_;
  return tail_.substr(tail_.size() - tail_bytes_);
}

void OutputSink::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace nomad::worker
