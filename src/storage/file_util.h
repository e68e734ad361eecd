#pragma once

// Small POSIX file helpers whose errors name the file and the system's reason.

#include <string>
#include <string_view>

#include "common/status.h"

namespace nomad::storage {

// Faults a test injects into the WAL's and the snapshot store's writes, to prove what a full
// or failing disk leaves behind. A server never sets one: the normal path pays one null check.
struct IoFaults {
  // Bytes that still fit on the "disk": a write that reaches past them writes what fits and
  // then fails with ENOSPC, as a filling disk does. Shrinks as writes succeed.
  uint64_t space_left = UINT64_MAX;
  int sync_error = 0;     // errno for every fsync/fdatasync (0: they succeed)
  int reserve_error = 0;  // errno for reserving a new WAL segment (fallocate)
};

// Whether an errno means the disk (or the user's quota) is full: the write may succeed once
// space is freed, unlike an I/O error.
bool is_out_of_space(int error_number);

Status read_file(const std::string& path, std::string* out);
// On failure, *error_number (when given) holds the errno.
Status write_all(int fd, std::string_view data, const std::string& path_for_errors,
                 IoFaults* faults = nullptr, int* error_number = nullptr);
// Writes all of `data` at `offset`, growing the file if it reaches past the end.
Status pwrite_all(int fd, std::string_view data, uint64_t offset,
                  const std::string& path_for_errors, IoFaults* faults = nullptr,
                  int* error_number = nullptr);
// fsync (data_only: fdatasync) of an open file, or the injected error.
Status sync_file(int fd, bool data_only, const std::string& path_for_errors,
                 IoFaults* faults = nullptr);
Status truncate_file(const std::string& path, size_t size);
// fsync of a directory, so that file creations, renames and deletions in it are durable.
Status sync_directory(const std::string& dir);

}  // namespace nomad::storage
