// libFuzzer target: arbitrary bytes as a --token-file. Authenticator::parse must load it or
// refuse it with an error that names the source, never crash. A file it loads must accept
// each token it lists with that token's highest role, and refuse a token it does not list.

#include <cstddef>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include "api/auth.h"
#include "fuzz_check.h"

using nomad::api::Authenticator;
using nomad::api::Role;

namespace {

// The tokens of a file that parsed, read independently of the parser: ROLE TOKEN per line.
std::map<std::string, Role> listed_tokens(const std::string& text) {
  std::map<std::string, Role> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string role, token;
    if (!(words >> role >> token)) continue;
    Role r = role == "operator"  ? Role::kOperator
             : role == "submit"  ? Role::kSubmit
             : role == "metrics" ? Role::kMetrics
                                 : Role::kRead;
    out[token] = r;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  Authenticator auth;
  nomad::Status status = Authenticator::parse(text, "--token-file fuzz", &auth);
  if (!status) {
    FUZZ_CHECK(status.message().rfind("--token-file fuzz", 0) == 0, "an error names the file");
    FUZZ_CHECK(!auth.enabled(), "a refused file loads no tokens");
    return 0;
  }
  FUZZ_CHECK(auth.enabled(), "a file that loads has tokens");
  for (const auto& [token, role] : listed_tokens(text)) {
    FUZZ_CHECK(auth.authorize("Bearer " + token, role).ok(), "a listed token has its role");
    if (role != Role::kOperator) {
      auto above = static_cast<Role>(static_cast<int>(role) + 1);
      FUZZ_CHECK(!auth.authorize("Bearer " + token, above).ok(),
                 "a listed token has no role above its own");
    }
  }
  FUZZ_CHECK(!auth.authorize("Bearer not-a-listed-token-at-all!", Role::kRead).ok(),
             "a token the file does not list is refused");
  if (!auth.peer_token().empty()) {
    FUZZ_CHECK(auth.authorize("Bearer " + auth.peer_token(), Role::kOperator).ok(),
               "the peer token is an operator's");
  }
  return 0;
}
