#include "api/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nomad::api {
namespace {

std::array<uint8_t, 32> sha256(std::string_view text) {
  std::array<uint8_t, 32> out{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), out.data(), &length, EVP_sha256(), nullptr);
  return out;
}

bool parse_role(std::string_view word, Role* role) {
  if (word == "metrics")
    *role = Role::kMetrics;
  else if (word == "read")
    *role = Role::kRead;
  else if (word == "submit")
    *role = Role::kSubmit;
  else if (word == "operator")
    *role = Role::kOperator;
  else
    return false;
  return true;
}

// Characters a token may hold: what fits an HTTP header and a shell word without quoting.
bool token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::strchr("-._~+/=", c) != nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

constexpr const char* kHowToSend =
    "send 'authorization: Bearer TOKEN' (CLI: --token or NOMAD_LITE_TOKEN; dashboard: enter "
    "the token when asked)";

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::kMetrics:
      return "metrics";
    case Role::kRead:
      return "read";
    case Role::kSubmit:
      return "submit";
    case Role::kOperator:
      return "operator";
  }
  return "?";
}

Status Authenticator::load(const std::string& path, Authenticator* out) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return Status::error("--token-file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::error("--token-file " + path + ": not a regular file");
  if (st.st_mode & (S_IROTH | S_IWOTH)) {
    return Status::error("--token-file " + path +
                         ": other users can read or write it; run chmod 600 " + path);
  }
  std::ifstream in(path);
  if (!in) return Status::error("--token-file " + path + ": cannot open it");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), "--token-file " + path, out);
}

Status Authenticator::parse(std::string_view text, const std::string& source, Authenticator* out) {
  Authenticator result;
  int line_number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(start, end - start));
    start = end + 1;
    ++line_number;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string role_word, token, extra;
    if (!(words >> role_word)) continue;  // blank or comment
    std::string where = source + " line " + std::to_string(line_number);
    Role role;
    if (!parse_role(role_word, &role)) {
      return Status::error(
          where + ": '" + role_word +
          "' is not a role; write ROLE TOKEN with ROLE metrics, read, submit or operator");
    }
    if (!(words >> token)) return Status::error(where + ": the token is missing after the role");
    if (words >> extra) return Status::error(where + ": write ROLE TOKEN, nothing after the token");
    if (token.size() < kMinTokenLength) {
      return Status::error(where + ": the token is shorter than " +
                           std::to_string(kMinTokenLength) +
                           " characters; use a long random one (e.g. openssl rand -hex 32)");
    }
    for (char c : token) {
      if (!token_char(c)) {
        return Status::error(where + ": the token may hold only letters, digits and - . _ ~ + / =");
      }
    }
    Digest digest = sha256(token);
    for (const Entry& e : result.entries_) {
      if (e.digest == digest) return Status::error(where + ": this token is listed twice");
    }
    result.entries_.push_back({digest, role});
    if (role == Role::kOperator && result.peer_token_.empty()) result.peer_token_ = token;
    if (end == text.size()) break;
  }
  if (result.entries_.empty()) {
    return Status::error(source + ": no tokens; write one per line as ROLE TOKEN");
  }
  *out = std::move(result);
  return Status::ok();
}

int Authenticator::role_of(std::string_view token) const {
  Digest digest = sha256(token);
  int role = 0;
  for (const Entry& e : entries_) {
    // No early exit, and a comparison whose time does not depend on where bytes differ.
    bool same = CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0;
    role |= same ? static_cast<int>(e.role) : 0;
  }
  return role;
}

AuthDecision Authenticator::authorize(std::string_view authorization, Role needed) const {
  if (!enabled()) return {};
  if (authorization.empty()) {
    return {Refusal::kUnauthenticated, std::string("this node requires a token: ") + kHowToSend};
  }
  size_t space = authorization.find(' ');
  if (space == std::string_view::npos || !iequals(authorization.substr(0, space), "bearer")) {
    return {Refusal::kUnauthenticated,
            std::string("the authorization is not a bearer token: ") + kHowToSend};
  }
  std::string_view token = authorization.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  int role = role_of(token);
  if (role == 0) {
    return {Refusal::kUnauthenticated,
            "the token is not valid on this node; check it against the server's --token-file"};
  }
  if (role < static_cast<int>(needed)) {
    return {Refusal::kPermissionDenied,
            std::string("the token's role (") + role_name(static_cast<Role>(role)) +
                ") may not do this; it needs the " + role_name(needed) + " role"};
  }
  return {};
}

}  // namespace nomad::api
