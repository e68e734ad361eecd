#include "transport/grpc_metrics.h"

#include <chrono>
#include <mutex>
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
    metrics_.record(code, std::chrono::steady_clock::now() - started_);
  }

  GrpcMethodMetrics& metrics_;
  std::chrono::steady_clock::time_point started_;
  bool recorded_ = false;
};

}  // namespace

GrpcMethodMetrics& grpc_method_metrics(const std::string& method) {
  static std::mutex mu;
  static auto* known = new std::map<std::string, std::unique_ptr<GrpcMethodMetrics>>();
  std::lock_guard lock(mu);
  auto& slot = (*known)[method];
  if (!slot) {
    auto& registry = metrics::default_registry();
    auto& calls =
        registry.counter("nomad_lite_grpc_requests_total",
                         "gRPC calls answered, by method and status code.", {"method", "code"});
    auto& duration = registry.histogram("nomad_lite_grpc_request_duration_seconds",
                                        "Time from a gRPC call's start to its status, by method.",
                                        metrics::buckets::request_seconds(), {"method"});
    slot = std::make_unique<GrpcMethodMetrics>(GrpcMethodMetrics{
        &duration.with({method}),
        std::make_unique<metrics::CounterByCode>(calls, metrics::LabelValues{method}, kMaxCode,
                                                 [](int c) { return grpc_code_name(c); })});
  }
  return *slot;
}

std::string unary_method_taking(const google::protobuf::Descriptor* request) {
  const google::protobuf::FileDescriptor* file = request->file();
  for (int s = 0; s < file->service_count(); ++s) {
    const google::protobuf::ServiceDescriptor* service = file->service(s);
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method = service->method(m);
      if (method->input_type() == request && !method->client_streaming() &&
          !method->server_streaming()) {
        return service->full_name() + "/" + method->name();
      }
    }
  }
  return "other";
}

GrpcMetricsFactory::GrpcMetricsFactory(const std::vector<std::string>& streams) {
  for (const auto& name : streams) {
    streams_[name] = &grpc_method_metrics(name.substr(name.starts_with("/") ? 1 : 0));
  }
}

grpc::experimental::Interceptor* GrpcMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const char* name = info->method();
  auto it = streams_.find(std::string_view(name ? name : ""));
  // No interceptor for the other calls: gRPC then runs none for them.
  return it == streams_.end() ? nullptr : new MetricsInterceptor(*it->second);
}

}  // namespace nomad::transport
