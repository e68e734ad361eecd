#include "transport/grpc_logging.h"

#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "common/log_rate_limit.h"

namespace nomad::transport {
namespace {

// gRPC logs an error per failed connection (a handshake with a certificate of another CA,
// say): a client retrying in a loop must not fill the log. Ten lines per place in gRPC's code
// every ten seconds, then a count.
constexpr size_t kErrorsPerWindow = 10;
constexpr auto kErrorWindow = std::chrono::seconds(10);

common::LogRateLimiter& error_limiter() {
  static common::LogRateLimiter limiter(kErrorsPerWindow, kErrorWindow);
  return limiter;
}

void to_spdlog(gpr_log_func_args* args) {
  std::string_view file = args->file ? args->file : "?";
  if (size_t slash = file.rfind('/'); slash != std::string_view::npos) {
    file.remove_prefix(slash + 1);
  }
  const char* message = args->message ? args->message : "";
  if (args->severity != GPR_LOG_SEVERITY_ERROR) {
    spdlog::debug("grpc ({}:{}): {}", file, args->line, message);
    return;
  }
  std::string source = std::string(file) + ":" + std::to_string(args->line);
  auto verdict = error_limiter().admit(source, common::LogRateLimiter::Clock::now());
  if (!verdict.log) return;
  if (verdict.suppressed == 0) {
    spdlog::warn("grpc ({}): {}", source, message);
  } else {
    spdlog::warn("grpc ({}): {} ({} more from here not shown, at most {} lines per {} s)", source,
                 message, verdict.suppressed, kErrorsPerWindow, kErrorWindow.count());
  }
}

void drop(gpr_log_func_args*) {}

void protobuf_to_spdlog(google::protobuf::LogLevel level, const char* filename, int line,
                        const std::string& message) {
  std::string_view file = filename ? filename : "?";
  if (size_t slash = file.rfind('/'); slash != std::string_view::npos) {
    file.remove_prefix(slash + 1);
  }
  if (level < google::protobuf::LOGLEVEL_WARNING) {
    spdlog::debug("protobuf ({}:{}): {}", file, line, message);
    return;
  }
  std::string source = "protobuf " + std::string(file) + ":" + std::to_string(line);
  auto verdict = error_limiter().admit(source, common::LogRateLimiter::Clock::now());
  if (!verdict.log) return;
  if (verdict.suppressed == 0) {
    spdlog::warn("{}: {}", source, message);
  } else {
    spdlog::warn("{}: {} ({} more from here not shown, at most {} lines per {} s)", source, message,
                 verdict.suppressed, kErrorsPerWindow, kErrorWindow.count());
  }
}

}  // namespace

void route_grpc_logs_to_spdlog() {
  gpr_set_log_function(to_spdlog);
  google::protobuf::SetLogHandler(protobuf_to_spdlog);
}

void quiet_grpc_logs() {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(drop);
}

}  // namespace nomad::transport
