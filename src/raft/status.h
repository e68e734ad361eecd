#pragma once

// The result of a check inside the consensus core: ok, or an error a caller can show as is.
// The core links nothing, so it carries its own (the shape of nomad::Status).

#include <string>
#include <utility>

namespace nomad::raft {

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool is_ok() const { return message_.empty(); }
  explicit operator bool() const { return is_ok(); }
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {
    if (message_.empty()) message_ = "unknown error";
  }
  std::string message_;
};

}  // namespace nomad::raft
