#include "transport/grpc_metrics.h"

#include <google/protobuf/descriptor.h>

#include <chrono>
#include <string_view>

namespace nomad::transport {

const char* grpc_code_name(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) return "UNKNOWN";
  return kNames[code];
}

namespace {

constexpr int kMaxCode = 16;  // UNAUTHENTICATED

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(GrpcMethodMetrics& m)
      : metrics_(m), started_(std::chrono::steady_clock::now()) {}

  ~MetricsInterceptor() override {
    // A call that ended without a status from us (the client went away) was cancelled.
    if (!recorded_) record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS) &&
        !recorded_) {
      record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void record(int code) {
    recorded_ = true;
    metrics_.duration->observe(std::chrono::steady_clock::now() - started_);
    metrics_.calls->at(code).inc();
  }

  GrpcMethodMetrics& metrics_;
  std::chrono::steady_clock::time_point started_;
  bool recorded_ = false;
};

}  // namespace

GrpcMetricsFactory::GrpcMetricsFactory(metrics::Registry& registry,
                                       const std::vector<std::string>& services) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const auto& name : services) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (!service) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      std::string method = service->full_name() + "/" + service->method(i)->name();
      methods_.emplace("/" + method, make(registry, method));
    }
  }
  other_ = make(registry, "other");
}

GrpcMethodMetrics GrpcMetricsFactory::make(metrics::Registry& registry, const std::string& method) {
  auto& calls =
      registry.counter("nomad_lite_grpc_requests_total",
                       "gRPC calls answered, by method and status code.", {"method", "code"});
  auto& duration = registry.histogram("nomad_lite_grpc_request_duration_seconds",
                                      "Time from a gRPC call's start to its status, by method.",
                                      metrics::buckets::request_seconds(), {"method"});
  return {&duration.with({method}),
          std::make_unique<metrics::CounterByCode>(calls, metrics::LabelValues{method}, kMaxCode,
                                                   [](int c) { return grpc_code_name(c); })};
}

grpc::experimental::Interceptor* GrpcMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const char* name = info->method();
  auto it = methods_.find(std::string_view(name ? name : ""));
  return new MetricsInterceptor(it != methods_.end() ? it->second : other_);
}

}  // namespace nomad::transport
