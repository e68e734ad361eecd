#pragma once

// Parsing a command line in a test: the invocation it must yield, or the usage error (exit
// code 2) it must be refused with.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/args.h"

namespace nomad::cli::test_support {

inline Invocation parse_ok(const std::vector<std::string>& args) {
  ParsedArgs parsed = parse_args(args);
  EXPECT_TRUE(parsed.invocation.has_value()) << parsed.error;
  return parsed.invocation.value_or(Invocation{});
}

inline std::string parse_error(const std::vector<std::string>& args) {
  ParsedArgs parsed = parse_args(args);
  EXPECT_FALSE(parsed.invocation.has_value());
  EXPECT_EQ(parsed.exit_code, 2);
  return parsed.error;
}

inline void expect_usage_error(const std::vector<std::string>& args, const std::string& expected) {
  std::string error = parse_error(args);
  EXPECT_NE(error.find(expected), std::string::npos)
      << "error '" << error << "' does not mention '" << expected << "'";
}

}  // namespace nomad::cli::test_support
