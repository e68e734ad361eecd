// Protobuf's own error lines, which a client's input can cause, are rate-limited like gRPC's.

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "proto/nomad_lite.pb.h"
#include "transport/grpc_logging.h"

namespace nomad::transport {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ProtobufLogs, TwoHundredUnparsableInputsLogAtMostTenLines) {
  std::ostringstream out;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  spdlog::set_default_logger(logger);
  route_grpc_logs_to_spdlog();
  for (int i = 0; i < 200; ++i) {
    nomad_lite::SubmitJobRequest request;
    // Text format parsing logs an error of protobuf's own for every bad input.
    EXPECT_FALSE(google::protobuf::TextFormat::ParseFromString("command: ][ garbage", &request));
  }
  logger->flush();
  spdlog::set_default_logger(previous);
  std::string text = out.str();
  EXPECT_GE(count(text, "protobuf "), 1u) << text;
  EXPECT_LE(count(text, "\n"), 10u) << text;
  EXPECT_EQ(count(text, "libprotobuf"), 0u) << text;
}

}  // namespace
}  // namespace nomad::transport
