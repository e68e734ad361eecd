// `nomad-lite version`: the project version CMake was given, the commit, the build type and the
// libraries, as one line and as JSON.

#include "cli/version.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/build_info.h"

namespace nomad::cli {
namespace {

TEST(Version, TheLineNamesVersionCommitBuildTypeAndLibraries) {
  EXPECT_STREQ(build_version(), NOMAD_PROJECT_VERSION);
  std::string commit = build_commit();
  std::string line = version_line();
  EXPECT_EQ(line.rfind(std::string("nomad-lite ") + NOMAD_PROJECT_VERSION + " (commit ", 0), 0u)
      << line;
  EXPECT_NE(line.find(commit.empty() ? "commit unknown" : "commit " + commit), std::string::npos)
      << line;
  EXPECT_NE(line.find(std::string(", ") + build_type() + "; gRPC 1."), std::string::npos) << line;
  EXPECT_NE(line.find(", protobuf 3."), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Version, JsonIsOneObjectWithTheSameFacts) {
  auto json = nlohmann::json::parse(version_json());
  EXPECT_EQ(json.at("version"), NOMAD_PROJECT_VERSION);
  EXPECT_EQ(json.at("commit"), build_commit());
  EXPECT_EQ(json.at("build_type"), build_type());
  EXPECT_EQ(json.at("grpc").get<std::string>().rfind("1.", 0), 0u);
  EXPECT_EQ(json.at("protobuf").get<std::string>().rfind("3.", 0), 0u);
}

}  // namespace
}  // namespace nomad::cli
