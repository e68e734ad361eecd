#pragma once

// Reading and writing cgroup control files (worker/cgroup.h): one read or one write each, as
// the kernel expects, with errors as text.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace nomad::worker::cgroup_files {

// The whole file (at most 1 MiB); false when it cannot be opened or read.
bool read_text(const std::filesystem::path& path, std::string* out);
// The number the file starts with; false when there is none.
bool read_number(const std::filesystem::path& path, uint64_t* value);
// One write of `text`; "" or what failed ("cannot write '1' to PATH: ..."), errno kept.
std::string write_control(const std::filesystem::path& path, const std::string& text);
bool path_exists(const std::filesystem::path& path);
std::vector<std::string> split(std::string_view text, char sep);

// The text of a file such as memory.events or cpu.stat: the value of `key` on its "key value"
// line; false when there is none.
bool read_keyed_value(std::string_view text, std::string_view key, uint64_t* value);

// The processes listed in the cgroup `dir` (cgroup.procs).
std::vector<pid_t> listed_processes(const std::filesystem::path& dir);
// SIGKILL to each of them; true when there was none.
bool kill_listed(const std::filesystem::path& dir);

}  // namespace nomad::worker::cgroup_files
