#pragma once

// A unary call whose request arrives as bytes and is decoded here (the generated
// WithRawCallbackMethod_* variants), so that bytes that are not the method's message get
// INVALID_ARGUMENT with a message that says so. With the typed callback API, gRPC 1.51 answers
// such a request itself with UNIMPLEMENTED and an empty message (CallbackUnaryHandler drops
// the status of a failed Deserialize).

#include <grpcpp/grpcpp.h>

#include <string>

namespace nomad::api {

// The reactor of one call: ends it with a status, after encoding the response when the
// status is OK. Deletes itself when gRPC is done with the call.
class UnaryCall : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryCall(grpc::ByteBuffer* response_bytes) : response_bytes_(response_bytes) {}

  void reply(const grpc::Status& status) {
    if (status.ok() && !encode(response_bytes_)) {
      Finish(grpc::Status(grpc::StatusCode::INTERNAL, "the response could not be encoded"));
      return;
    }
    Finish(status);
  }
  void OnDone() override { delete this; }

 protected:
  virtual bool encode(grpc::ByteBuffer* out) = 0;

 private:
  grpc::ByteBuffer* response_bytes_;
};

template <class Request, class Response>
class DecodedCall final : public UnaryCall {
 public:
  using UnaryCall::UnaryCall;
  Request request;
  Response response;

 private:
  bool encode(grpc::ByteBuffer* out) override {
    bool own_buffer = false;
    return grpc::SerializationTraits<Response>::Serialize(response, out, &own_buffer).ok();
  }
};

// Decodes `bytes` as Request; on success runs `handler(call)`, which must end the call with
// call->reply (now or later); otherwise ends it with INVALID_ARGUMENT.
template <class Request, class Response, class Handler>
grpc::ServerUnaryReactor* decode_then(const grpc::ByteBuffer* bytes,
                                      grpc::ByteBuffer* response_bytes, Handler&& handler) {
  auto* call = new DecodedCall<Request, Response>(response_bytes);
  grpc::ByteBuffer copy(*bytes);  // Deserialize consumes its buffer; the slices are shared
  grpc::Status decoded = grpc::SerializationTraits<Request>::Deserialize(&copy, &call->request);
  if (!decoded.ok()) {
    call->reply(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                             "the request is not a valid " + Request::descriptor()->full_name() +
                                 " message (" + std::to_string(bytes->Length()) +
                                 " bytes that do not decode as protobuf); check that the client "
                                 "was generated from this server's proto/nomad_lite.proto"));
    return call;
  }
  handler(call);
  return call;
}

}  // namespace nomad::api
