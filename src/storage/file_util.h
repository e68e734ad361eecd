#pragma once

// Small POSIX file helpers whose errors name the file and the system's reason.

#include <string>
#include <string_view>

#include "common/status.h"

namespace nomad::storage {

Status read_file(const std::string& path, std::string* out);
Status write_all(int fd, std::string_view data, const std::string& path_for_errors);
// Writes all of `data` at `offset`, growing the file if it reaches past the end.
Status pwrite_all(int fd, std::string_view data, uint64_t offset,
                  const std::string& path_for_errors);
Status truncate_file(const std::string& path, size_t size);
// fsync of a directory, so that file creations, renames and deletions in it are durable.
Status sync_directory(const std::string& dir);

}  // namespace nomad::storage
