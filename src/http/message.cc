#include "http/message.h"

#include <strings.h>

namespace nomad::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; '+' is a space only in the query.
std::string decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += plus_is_space && c == '+' ? ' ' : c;
  }
  return out;
}

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  size_t n = std::min(a.size(), b.size());
  int c = strncasecmp(a.data(), b.data(), n);
  if (c != 0) return c < 0;
  return a.size() < b.size();
}

std::string Request::get_header_value(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

void Response::set_header(const std::string& name, const std::string& value) {
  // Header values never carry a line break into the answer.
  if (value.find_first_of("\r\n") != std::string::npos) return;
  headers.erase(name);
  headers.emplace(name, value);
}

std::string Response::get_header_value(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

void Response::set_content(std::string content, const std::string& content_type) {
  body = std::move(content);
  stream.reset();
  set_header("Content-Type", content_type);
}

void Response::set_stream(std::shared_ptr<BodyStream> body_stream,
                          const std::string& content_type) {
  body.clear();
  stream = std::move(body_stream);
  set_header("Content-Type", content_type);
}

bool parse_target(std::string_view target, std::string* path, QueryParams* params) {
  if (target.empty() || target.front() != '/') return false;
  size_t question = target.find('?');
  *path = decode(target.substr(0, question), false);
  if (question == std::string_view::npos) return true;
  std::string_view query = target.substr(question + 1);
  size_t hash = query.find('#');
  if (hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key = decode(pair.substr(0, eq), true);
      std::string value =
          eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1), true);
      params->emplace(std::move(key), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return true;
}

}  // namespace nomad::http
