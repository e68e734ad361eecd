#pragma once

// A fresh directory under the system temp dir (nomad-<prefix>-XXXXXX), removed with everything
// in it at scope exit. Every suite that needs a scratch directory uses this one.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace nomad::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "test") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("nomad-" + prefix + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary directory from " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::filesystem::path dir() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace nomad::testing
