#include "http/leader_forwarder.h"

#include <gtest/gtest.h>

#include "http/errors.h"

namespace nomad::http {
namespace {

// A REST write a follower forwards gets the leader's answer with the status the leader itself
// would have given over REST: a forwarded refusal is not turned into a 500.
TEST(LeaderForwarder, TheLeadersRefusalsKeepTheirHttpStatus) {
  struct Case {
    grpc::StatusCode code;
    int http;
  };
  for (Case c :
       {Case{grpc::StatusCode::INVALID_ARGUMENT, 400}, Case{grpc::StatusCode::NOT_FOUND, 404},
        Case{grpc::StatusCode::ALREADY_EXISTS, 409},
        Case{grpc::StatusCode::RESOURCE_EXHAUSTED, 429},
        Case{grpc::StatusCode::UNAVAILABLE, 503}}) {
    grpc::ClientContext context;
    api::Error e = error_from_grpc(grpc::Status(c.code, "why"), context, "127.0.0.1:1");
    EXPECT_EQ(http_status(e.code), c.http) << static_cast<int>(c.code);
  }
}

TEST(LeaderForwarder, AReusedIdempotencyKeyKeepsTheLeadersMessage) {
  grpc::ClientContext context;
  api::Error e = error_from_grpc(grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                                              "idempotency_key 'k' was already used for job J"),
                                 context, "127.0.0.1:1");
  EXPECT_EQ(e.code, api::Code::kAlreadyExists);
  EXPECT_EQ(e.message, "idempotency_key 'k' was already used for job J");
}

}  // namespace
}  // namespace nomad::http
