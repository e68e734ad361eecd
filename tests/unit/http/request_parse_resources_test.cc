// The REST submission's cpu, memory and constraints fields: accepted forms and the errors of
// the others.

#include <gtest/gtest.h>

#include "http/request_parse.h"

namespace nomad::http::resources_test {
namespace {

using api::Code;

TEST(ParseSubmitResources, TakesCpuAsANumberOrStringMemoryAsBytesOrASizeAndConstraints) {
  auto r = parse_submit(
      R"({"command": "x", "cpu": 0.5, "memory": "256MiB", "constraints": ["gpu==true", "zone!=eu"]})");
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(r.value.resources().cpu(), 0.5);
  EXPECT_EQ(r.value.resources().memory_bytes(), 256u << 20);
  ASSERT_EQ(r.value.constraints_size(), 2);
  EXPECT_EQ(r.value.constraints(1), "zone!=eu");
  auto bytes = parse_submit(R"({"command": "x", "cpu": "2", "memory": 1073741824})");
  ASSERT_TRUE(bytes.ok()) << bytes.error.message;
  EXPECT_EQ(bytes.value.resources().cpu(), 2);
  EXPECT_EQ(bytes.value.resources().memory_bytes(), 1u << 30);
  auto none = parse_submit(R"({"command": "x", "cpu": null, "memory": null, "constraints": null})");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value.has_resources());
}

TEST(ParseSubmitResources, RefusesBadValuesNamingTheField) {
  struct Case {
    const char* body;
    const char* named;
  };
  for (const Case& c : {
           Case{R"({"command": "x", "cpu": -1})", "'cpu'"},
           Case{R"({"command": "x", "cpu": 0})", "'cpu'"},
           Case{R"({"command": "x", "cpu": "half"})", "'cpu'"},
           Case{R"({"command": "x", "cpu": true})", "'cpu'"},
           Case{R"({"command": "x", "memory": "lots"})", "'memory'"},
           Case{R"({"command": "x", "memory": -5})", "'memory'"},
           Case{R"({"command": "x", "memory": 0})", "'memory'"},
           Case{R"({"command": "x", "constraints": "gpu==true"})", "'constraints' must be a list"},
           Case{R"({"command": "x", "constraints": [1]})", "'constraints' holds"},
       }) {
    auto r = parse_submit(c.body);
    EXPECT_EQ(r.error.code, Code::kInvalidArgument) << c.body;
    EXPECT_NE(r.error.message.find(c.named), std::string::npos) << r.error.message;
  }
}

}  // namespace
}  // namespace nomad::http::resources_test
