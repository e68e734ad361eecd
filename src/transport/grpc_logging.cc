#include "transport/grpc_logging.h"

#include <grpc/support/log.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string_view>

namespace nomad::transport {
namespace {

void to_spdlog(gpr_log_func_args* args) {
  std::string_view file = args->file ? args->file : "?";
  if (size_t slash = file.rfind('/'); slash != std::string_view::npos) {
    file.remove_prefix(slash + 1);
  }
  auto level =
      args->severity == GPR_LOG_SEVERITY_ERROR ? spdlog::level::warn : spdlog::level::debug;
  spdlog::log(level, "grpc ({}:{}): {}", file, args->line, args->message ? args->message : "");
}

void drop(gpr_log_func_args*) {}

}  // namespace

void route_grpc_logs_to_spdlog() { gpr_set_log_function(to_spdlog); }

void quiet_grpc_logs() {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(drop);
}

}  // namespace nomad::transport
