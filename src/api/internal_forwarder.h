#pragma once

// Forwards an InternalService call that reached a follower (Join, RegisterAgent) to the leader,
// with one header that says what this node vouched for (the leader believes it only from a
// member). One channel per leader address (transport::InternalStubs), kept for the next call.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>

#include "proto/nomad_lite.grpc.pb.h"
#include "transport/internal_stubs.h"

namespace nomad::api {

class InternalForwarder {
 public:
  // Metadata sent with a forwarded call; an empty value is not sent.
  struct Header {
    const char* name;
    std::string value;
  };

  // How long a forwarded call may take at the leader (its change commits within a round trip).
  static constexpr auto kTimeout = std::chrono::seconds(10);

  // Calls `method` on the leader at `address`. A refusal keeps the leader's code; its message
  // says which leader answered.
  template <class Request, class Response>
  grpc::Status forward(const std::string& address,
                       grpc::Status (nomad_lite::InternalService::Stub::*method)(
                           grpc::ClientContext*, const Request&, Response*),
                       const Request& request, const Header& header, Response* response) {
    grpc::ClientContext context;
    prepare(&context, header);
    return named(address, (*stubs_.at(address).stub.*method)(&context, request, response));
  }

 private:
  static void prepare(grpc::ClientContext* context, const Header& header);
  static grpc::Status named(const std::string& address, const grpc::Status& status);

  transport::InternalStubs stubs_;
};

}  // namespace nomad::api
