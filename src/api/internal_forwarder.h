#pragma once

// Forwards an InternalService call that reached a follower (Join, RegisterAgent) to the leader,
// with one header that says what this node vouched for (the leader believes it only from a
// member). One channel per leader address, kept for the next call.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "proto/nomad_lite.grpc.pb.h"

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
    return named(address, (stub(address).*method)(&context, request, response));
  }

 private:
  nomad_lite::InternalService::Stub& stub(const std::string& address);
  static void prepare(grpc::ClientContext* context, const Header& header);
  static grpc::Status named(const std::string& address, const grpc::Status& status);

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<nomad_lite::InternalService::Stub>> stubs_;
};

}  // namespace nomad::api
