// The system's text for an errno value ("No such file or directory"), for error messages.
#pragma once

#include <string>
#include <system_error>

namespace nomad::common {

inline std::string errno_text(int err) { return std::system_category().message(err); }

}  // namespace nomad::common
