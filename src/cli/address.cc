#include "cli/address.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace nomad::cli {
namespace {

std::string trim(const std::string& text) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  auto begin = std::find_if(text.begin(), text.end(), not_space);
  auto end = std::find_if(text.rbegin(), text.rend(), not_space).base();
  return begin < end ? std::string(begin, end) : std::string();
}

bool is_port(const std::string& text) {
  if (text.empty() || text.size() > 5) return false;
  if (!std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  int port = std::stoi(text);
  return port >= 1 && port <= 65535;
}

}  // namespace

Status parse_addresses(const std::string& text, std::vector<std::string>* out) {
  out->clear();
  std::stringstream items(text);
  std::string item;
  const std::string example = " (write it like http://127.0.0.1:50051 or 127.0.0.1:50051)";
  while (std::getline(items, item, ',')) {
    std::string address = trim(item);
    if (address.rfind("https://", 0) == 0) {
      return Status::error("--addr: '" + address + "': TLS is not supported, use http://");
    }
    if (address.rfind("http://", 0) == 0) address = address.substr(7);
    while (!address.empty() && address.back() == '/') address.pop_back();
    if (address.empty()) return Status::error("--addr: empty address in '" + text + "'" + example);
    if (address.find('/') != std::string::npos) {
      return Status::error("--addr: '" + trim(item) + "' has a path" + example);
    }
    // "[::1]:50051" and "[::1]" are IPv6; otherwise the last ':' separates the port.
    size_t colon = address.rfind(':');
    bool bracketed = address.front() == '[';
    bool has_port = colon != std::string::npos && (!bracketed || address[colon - 1] == ']');
    if (!bracketed && has_port && address.find(':') != colon) {
      return Status::error("--addr: '" + address + "': write IPv6 addresses in brackets" + example);
    }
    if (!has_port) {
      address += ":50051";
    } else if (!is_port(address.substr(colon + 1)) || colon == 0) {
      return Status::error("--addr: '" + trim(item) + "' has no valid host:port" + example);
    }
    out->push_back(address);
  }
  if (out->empty()) return Status::error("--addr: no address given" + example);
  if (!text.empty() && trim(text).back() == ',') {
    return Status::error("--addr: trailing comma in '" + text + "'" + example);
  }
  return Status::ok();
}

}  // namespace nomad::cli
