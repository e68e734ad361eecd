#include "jobs/node_capacity.h"

#include <cctype>
#include <cmath>
#include <string>

namespace nomad::jobs {
namespace {

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '/';
}

bool printable(std::string_view text, bool spaces_allowed) {
  for (char c : text) {
    if (!std::isprint(static_cast<unsigned char>(c)) || (c == ' ' && !spaces_allowed)) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status check_label(std::string_view key, std::string_view value) {
  if (key.empty()) return Status::error("the label key is empty");
  if (key.size() > kMaxLabelKey) {
    return Status::error("the label key is longer than " + std::to_string(kMaxLabelKey));
  }
  for (char c : key) {
    if (!is_key_char(c)) {
      return Status::error("a label key holds only letters, digits, '.', '_', '-' and '/'");
    }
  }
  if (value.size() > kMaxLabelValue) {
    return Status::error("the value is longer than " + std::to_string(kMaxLabelValue));
  }
  if (!printable(value, false)) {
    return Status::error("a value holds only printable characters without spaces");
  }
  return Status::ok();
}

Status check_capacity(const nomad_lite::NodeCapacity& capacity) {
  if (!std::isfinite(capacity.cpu()) || capacity.cpu() < 0 || capacity.cpu() > kMaxNodeCpu) {
    return Status::error("capacity cpu: give 0 to " + std::to_string(int(kMaxNodeCpu)) +
                         " cores (--cpu)");
  }
  if (capacity.labels_size() > static_cast<int>(kMaxLabels)) {
    return Status::error("capacity labels: " + std::to_string(capacity.labels_size()) +
                         " labels, at most " + std::to_string(kMaxLabels) + " (--label)");
  }
  for (const auto& [key, value] : capacity.labels()) {
    if (Status s = check_label(key, value); !s) {
      std::string shown = key.substr(0, 80);
      for (char& c : shown) {
        if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
      }
      return Status::error("capacity label \"" + shown + "\": " + s.message() + " (--label)");
    }
  }
  if (capacity.name().size() > kMaxNodeName || !printable(capacity.name(), true)) {
    return Status::error("capacity name: at most " + std::to_string(kMaxNodeName) +
                         " printable characters (--node-name)");
  }
  return Status::ok();
}

}  // namespace nomad::jobs
