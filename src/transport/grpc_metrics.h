#pragma once

// Counts and times every call the gRPC server answers, for GET /metrics:
// nomad_lite_grpc_requests_total{method,code} and nomad_lite_grpc_request_duration_seconds
// {method}, method as "package.Service/Method" and code as gRPC names it ("OK",
// "UNAVAILABLE"). A stream's duration is its whole life. Each method's figures are looked up
// once, when the server is built, so a call takes no lock; a method of no listed service
// counts as "other".

#include <grpcpp/support/server_interceptor.h>

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
};

class GrpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `services`: the full names of the services served ("nomad_lite.SchedulerService").
  GrpcMetricsFactory(metrics::Registry& registry, const std::vector<std::string>& services);
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  GrpcMethodMetrics make(metrics::Registry& registry, const std::string& method);
  std::map<std::string, GrpcMethodMetrics, std::less<>> methods_;  // fixed once built
  GrpcMethodMetrics other_;
};

}  // namespace nomad::transport
