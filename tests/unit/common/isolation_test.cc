// --executor's values: each Isolation has the name the flag takes, and only those names parse.

#include "common/isolation.h"

#include <gtest/gtest.h>

#include <string>

namespace nomad::common {
namespace {

TEST(IsolationName, EachKindHasTheFlagsNameAndParsesBack) {
  const std::pair<Isolation, std::string> expected[] = {{Isolation::kRaw, "raw"},
                                                        {Isolation::kSandbox, "sandbox"}};
  for (const auto& [isolation, name] : expected) {
    EXPECT_EQ(isolation_name(isolation), name);
    Isolation parsed = isolation == Isolation::kRaw ? Isolation::kSandbox : Isolation::kRaw;
    ASSERT_TRUE(isolation_from_name(name, &parsed)) << name;
    EXPECT_EQ(parsed, isolation) << name;
  }
}

TEST(IsolationName, AnyOtherTextIsRefused) {
  for (const std::string name : {"", "Raw", "bubblewrap", "sandbox ", "unknown"}) {
    Isolation isolation = Isolation::kSandbox;
    EXPECT_FALSE(isolation_from_name(name, &isolation)) << name;
    EXPECT_EQ(isolation, Isolation::kSandbox) << "changed by '" << name << "'";
  }
}

}  // namespace
}  // namespace nomad::common
