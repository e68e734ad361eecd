#pragma once

// The build this binary comes from, fixed when CMake configured it (cmake/build_info.cmake).

namespace nomad {

const char* build_version();  // the CMake project version, e.g. "0.1.0"
const char* build_commit();   // `git describe --always --dirty`; "" when not built from git
const char* build_type();     // CMAKE_BUILD_TYPE: Release, RelWithDebInfo, Debug ...

}  // namespace nomad
