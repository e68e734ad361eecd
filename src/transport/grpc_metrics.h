#pragma once

// Counts and times the calls the gRPC server answers, for GET /metrics:
// nomad_lite_grpc_requests_total{method,code} and nomad_lite_grpc_request_duration_seconds
// {method}, method as "package.Service/Method" and code as gRPC names it ("OK",
// "UNAVAILABLE"). Unary calls are measured by their reactor (transport/decoded_call.h): gRPC's
// interceptors cost about 15 µs of the servers' CPU per submission (measured: 5%), so the
// interceptor below takes only the streams that clients and workers open (job output, report
// streams), over their whole life. The Raft streams between nodes are not counted: they live
// as long as the connection, and intercepting each of their messages would cost the same
// again. Each method's figures are looked up once, so a call takes no lock.

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/server_interceptor.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "metrics/by_code.h"
#include "metrics/registry.h"

namespace nomad::transport {

// The gRPC status code's name ("OK", "DEADLINE_EXCEEDED", ...).
const char* grpc_code_name(int code);

struct GrpcMethodMetrics {
  metrics::Histogram* duration;
  std::unique_ptr<metrics::CounterByCode> calls;
  void record(int code, std::chrono::steady_clock::duration took) {
    duration->observe(took);
    calls->at(code).inc();
  }
};

// The figures of `method` ("package.Service/Method") in the default registry; the same object
// for the life of the process.
GrpcMethodMetrics& grpc_method_metrics(const std::string& method);

// The unary method of the services in `request`'s proto file that takes `request`
// ("package.Service/Method"), or "other".
std::string unary_method_taking(const google::protobuf::Descriptor* request);

class GrpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `streams`: the full names of the streaming methods to measure
  // ("/nomad_lite.SchedulerService/StreamJobLogs"); every other call is left alone.
  explicit GrpcMetricsFactory(const std::vector<std::string>& streams);
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::map<std::string, GrpcMethodMetrics*, std::less<>> streams_;  // fixed once built
};

}  // namespace nomad::transport
