#include "cli/version.h"

#include <google/protobuf/stubs/common.h>
#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>

#include "common/build_info.h"

namespace nomad::cli {
namespace {

// The versions of the libraries linked in, as they report themselves at run time.
std::string grpc_version() { return grpc::Version(); }
std::string protobuf_version() {
  return google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION);
}

}  // namespace

std::string version_line() {
  std::string commit = build_commit();
  return std::string("nomad-lite ") + build_version() + " (commit " +
         (commit.empty() ? "unknown" : commit) + ", " + build_type() + "; gRPC " + grpc_version() +
         ", protobuf " + protobuf_version() + ")";
}

std::string version_json() {
  nlohmann::json out = {{"version", build_version()},
                        {"commit", build_commit()},
                        {"build_type", build_type()},
                        {"grpc", grpc_version()},
                        {"protobuf", protobuf_version()}};
  return out.dump();
}

}  // namespace nomad::cli
