#pragma once

// A unary call whose request arrives as bytes and is decoded here (the generated
// WithRawCallbackMethod_* variants), so that bytes that are not the method's message get
// INVALID_ARGUMENT with a message that says so. With the typed callback API, gRPC 1.51 answers
// such a request itself with UNIMPLEMENTED and an empty message (CallbackUnaryHandler drops
// the status of a failed Deserialize).

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/method_handler.h>

#include <chrono>
#include <functional>
#include <string>

#include "transport/grpc_metrics.h"

namespace nomad::transport {

// Decodes `bytes` (which it consumes: gRPC's Deserialize clears its buffer) as `message`: OK,
// or INVALID_ARGUMENT naming the message type expected. One parse, as gRPC's own.
template <class Message>
grpc::Status decode(grpc::ByteBuffer* bytes, Message* message) {
  const size_t length = bytes->Length();
  if (grpc::SerializationTraits<Message>::Deserialize(bytes, message).ok()) {
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      "the request is not a valid " + message->GetDescriptor()->full_name() +
                          " message (" + std::to_string(length) +
                          " bytes that do not decode as protobuf); check that the client "
                          "was generated from this server's proto/nomad_lite.proto");
}

// Encodes `message` into `out` (replacing what it held) for a method that sends bytes; false
// if it could not.
template <class Message>
bool encode(const Message& message, grpc::ByteBuffer* out) {
  // gRPC's protobuf writer asserts an empty buffer for a message longer than an inline slice,
  // and a buffer just written still holds the bytes it sent.
  out->Clear();
  bool own_buffer = false;
  return grpc::SerializationTraits<Message>::Serialize(message, out, &own_buffer).ok();
}

// The reactor of one call: ends it with a status, after encoding the response when the
// status is OK. Deletes itself when gRPC is done with the call.
class UnaryCall : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryCall(grpc::ByteBuffer* response_bytes) : response_bytes_(response_bytes) {}

  void reply(const grpc::Status& status) {
    if (status.ok() && !encode(response_bytes_)) {
      finish(grpc::Status(grpc::StatusCode::INTERNAL, "the response could not be encoded"));
      return;
    }
    finish(status);
  }
  // Counts the call and its duration under `metrics` when it ends (GET /metrics).
  void measure(GrpcMethodMetrics* metrics) { metrics_ = metrics; }
  void OnDone() override { delete this; }

 protected:
  virtual bool encode(grpc::ByteBuffer* out) = 0;

 private:
  void finish(const grpc::Status& status) {
    if (metrics_)
      metrics_->record(status.error_code(), std::chrono::steady_clock::now() - started_);
    Finish(status);
  }

  grpc::ByteBuffer* response_bytes_;
  GrpcMethodMetrics* metrics_ = nullptr;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

template <class Request, class Response>
class DecodedCall final : public UnaryCall {
 public:
  using UnaryCall::UnaryCall;
  Request request;
  Response response;

 private:
  bool encode(grpc::ByteBuffer* out) override { return transport::encode(response, out); }
};

// Decodes `bytes` as Request; on success runs `handler(call)`, which must end the call with
// call->reply (now or later); otherwise ends it with INVALID_ARGUMENT.
template <class Request, class Response, class Handler>
grpc::ServerUnaryReactor* decode_then(const grpc::ByteBuffer* bytes,
                                      grpc::ByteBuffer* response_bytes, Handler&& handler) {
  auto* call = new DecodedCall<Request, Response>(response_bytes);
  // Each request type is the input of one unary method: its figures are found once.
  static GrpcMethodMetrics& metrics =
      grpc_method_metrics(unary_method_taking(Request::descriptor()));
  call->measure(&metrics);
  grpc::ByteBuffer copy(*bytes);  // Deserialize consumes its buffer; the slices are shared
  if (grpc::Status decoded = decode(&copy, &call->request); !decoded.ok()) {
    call->reply(decoded);
    return call;
  }
  handler(call);
  return call;
}

// A server-streaming method on the synchronous API that takes its request as bytes: gRPC
// 1.51 answers a request that does not decode there with INTERNAL and an empty message, and
// its generated raw variants of such methods are asynchronous. The method is served as gRPC
// serves its split-streaming variant (a stream that reads one message), and `Stream` hands
// the request over as bytes for read_request to decode; responses are written typed.
template <class Response>
using RawRequestStream = grpc::ServerReaderWriter<Response, grpc::ByteBuffer>;

template <class Response>
using RawRequestHandler =
    std::function<grpc::Status(grpc::ServerContext*, RawRequestStream<Response>*)>;

template <class Response>
grpc::internal::MethodHandler* raw_request_streaming(RawRequestHandler<Response> handler) {
  return new grpc::internal::TemplatedBidiStreamingHandler<RawRequestStream<Response>, false>(
      std::move(handler));
}

// Reads and decodes the one request of a call served by raw_request_streaming.
template <class Request, class Response>
grpc::Status read_request(RawRequestStream<Response>* stream, Request* request) {
  grpc::ByteBuffer bytes;
  if (!stream->Read(&bytes)) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        "the call carried no " + request->GetDescriptor()->full_name() + " request message");
  }
  return decode(&bytes, request);
}

// The index gRPC gives a method of a service in proto/nomad_lite.proto: its place in the
// service's declaration, as the generated code numbers them.
template <class AnyMessageOfTheFile>
int method_index(const std::string& service, const std::string& method) {
  const auto* file = AnyMessageOfTheFile::descriptor()->file();
  const auto* found = file->FindServiceByName(service);
  const auto* m = found ? found->FindMethodByName(method) : nullptr;
  GPR_ASSERT(m != nullptr);
  return m->index();
}

}  // namespace nomad::transport
