#pragma once

// Client authentication with bearer tokens (--token-file), one place for gRPC and HTTP.
//
// The token file lists one token per line as `ROLE TOKEN`; `#` starts a comment. Roles nest:
// metrics (only GET /metrics, for a Prometheus server) < read (list, status, logs, cluster;
// and /metrics) < submit (also submit and cancel) < operator (everything, and node-to-node
// calls when there is no TLS). Tokens are kept only as SHA-256 digests and
// compared in constant time; no token is ever logged or put in an error message.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace nomad::api {

enum class Role { kMetrics = 1, kRead = 2, kSubmit = 3, kOperator = 4 };

const char* role_name(Role role);

// Why a request was refused, as the transports report it.
enum class Refusal {
  kNone,
  kUnauthenticated,   // no token, or not one of ours: gRPC UNAUTHENTICATED, HTTP 401
  kPermissionDenied,  // a good token whose role is too low: PERMISSION_DENIED, 403
};

struct AuthDecision {
  Refusal refusal = Refusal::kNone;
  std::string message;  // for the caller: what is wrong and what to do
  bool ok() const { return refusal == Refusal::kNone; }
};

inline constexpr size_t kMinTokenLength = 16;

class Authenticator {
 public:
  // Without tokens: every request is allowed.
  Authenticator() = default;

  // Reads a token file. Errors name the file and line. A file other users may read is refused.
  static Status load(const std::string& path, Authenticator* out);
  // The same from text (`source` names it in errors); no permission check.
  static Status parse(std::string_view text, const std::string& source, Authenticator* out);

  bool enabled() const { return !entries_.empty(); }

  // `authorization` is the request's header/metadata value ("Bearer TOKEN"); "" when absent.
  AuthDecision authorize(std::string_view authorization, Role needed) const;

  // A token of the operator role, for a node's own calls to its peers when there is no TLS
  // (every node has the same file); "" when the file has none.
  const std::string& peer_token() const { return peer_token_; }

 private:
  using Digest = std::array<uint8_t, 32>;
  struct Entry {
    Digest digest;
    Role role;
  };
  // The role of `token`, or 0 if it is none of ours. Looks at every entry whatever matches.
  int role_of(std::string_view token) const;

  std::vector<Entry> entries_;
  std::string peer_token_;
};

}  // namespace nomad::api
