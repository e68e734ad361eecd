#pragma once

// One output stream (stdout or stderr) of one attempt: appended to a file on disk up to a cap,
// and its last bytes kept in memory for the finish record (docs/architecture.md, "A job's life").
//
// Past the cap the file ends with a marker line and everything else is discarded; the caller
// keeps reading the pipe anyway, so the job never blocks on a full pipe. Used only by the
// executor thread: not thread-safe.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace nomad::worker {

// The line that ends a file cut at `cap` bytes: "\n[nomad-lite: output truncated at 10 MiB]\n".
std::string truncation_marker(uint64_t cap);

class OutputSink {
 public:
  OutputSink(uint64_t cap, size_t tail_bytes) : cap_(cap), tail_bytes_(tail_bytes) {}
  ~OutputSink();
  OutputSink(const OutputSink&) = delete;
  OutputSink& operator=(const OutputSink&) = delete;

  // Names the file. It is created (or truncated) with the first byte written, so a job that
  // prints nothing costs no file.
  void set_path(std::filesystem::path path) { path_ = std::move(path); }

  // Appends what fits under the cap, then the marker once; the rest is dropped. A failing
  // create or write (disk full) is remembered in write_error() and later data is dropped too:
  // the job goes on, its output file is simply shorter.
  void write(std::string_view data);

  // Bytes in the file (output kept plus the marker, if any).
  uint64_t written() const { return written_; }
  // The cap was reached: the file ends with the marker.
  bool capped() const { return capped_; }
  // The last tail_bytes of the output kept (and the marker), also when the file could not
  // take it.
  std::string tail() const;
  // The tail is not the whole output: the output is longer than the tail, or the cap was hit.
  bool tail_truncated() const { return capped_ || seen_ > tail_bytes_; }
  const std::string& write_error() const { return write_error_; }

  void close();

 private:
  bool append(std::string_view data);  // to the file and the tail

  const uint64_t cap_;
  const size_t tail_bytes_;
  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t written_ = 0;  // bytes of output kept, plus the marker once written
  uint64_t kept_ = 0;     // bytes of output kept (counts against the cap)
  uint64_t seen_ = 0;     // bytes kept plus the marker, whether or not the file took them
  bool capped_ = false;
  std::string tail_;  // holds up to 2 * tail_bytes_, trimmed in amortized O(1)
  std::string write_error_;
};

}  // namespace nomad::worker
