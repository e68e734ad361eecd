#pragma once

// Names the calling thread, so `top -H`, `ps -L` and profilers show what each thread of a
// node is for. Linux keeps at most 15 characters; longer names are cut.

#include <string_view>

namespace nomad::common {

void name_this_thread(std::string_view name);

}  // namespace nomad::common
