#include "jobs/node_capacity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace nomad::jobs {
namespace {

nomad_lite::NodeCapacity good() {
  nomad_lite::NodeCapacity c;
  c.set_cpu(2);
  c.set_memory_bytes(uint64_t{4} << 30);
  (*c.mutable_labels())["gpu"] = "true";
  (*c.mutable_labels())["zone"] = "";
  c.set_name("worker 1");
  return c;
}

void expect_refused(const nomad_lite::NodeCapacity& c, const std::string& names) {
  Status s = check_capacity(c);
  ASSERT_FALSE(s) << names;
  EXPECT_NE(s.message().find(names), std::string::npos) << s.message();
}

TEST(NodeCapacity, AWellFormedCapacityPasses) {
  EXPECT_TRUE(check_capacity(good()));
  EXPECT_TRUE(check_capacity(nomad_lite::NodeCapacity{}));  // nothing said: no limits known
}

TEST(NodeCapacity, CoresMustBeAFiniteNumberInRange) {
  for (double cpu : {std::nan(""), std::numeric_limits<double>::infinity(), -1.0, 1e9}) {
    auto c = good();
    c.set_cpu(cpu);
    expect_refused(c, "cpu");
  }
}

TEST(NodeCapacity, LabelsAreBoundedInCountAndForm) {
  auto many = good();
  for (size_t i = 0; i < kMaxLabels; ++i) (*many.mutable_labels())["k" + std::to_string(i)] = "v";
  expect_refused(many, "at most 64");

  auto bad_key = good();
  (*bad_key.mutable_labels())["a b"] = "v";
  expect_refused(bad_key, "label \"a b\"");

  auto long_key = good();
  (*long_key.mutable_labels())[std::string(kMaxLabelKey + 1, 'k')] = "v";
  expect_refused(long_key, "longer than 63");

  auto long_value = good();
  (*long_value.mutable_labels())["k"] = std::string(kMaxLabelValue + 1, 'v');
  expect_refused(long_value, "longer than 255");

  auto control = good();
  (*control.mutable_labels())[std::string("k\x01", 2)] = "v";
  expect_refused(control, "label \"k?\"");  // shown without the control byte
}

TEST(NodeCapacity, TheNameIsPrintableAndBounded) {
  auto c = good();
  c.set_name(std::string(kMaxNodeName + 1, 'n'));
  expect_refused(c, "name");
  c.set_name("a\nb");
  expect_refused(c, "name");
}

TEST(NodeCapacity, ALabelIsCheckedAsKeyAndValue) {
  EXPECT_TRUE(check_label("topology.kubernetes.io/zone", "eu-1"));
  EXPECT_FALSE(check_label("", "v"));
  EXPECT_FALSE(check_label("k", "two words"));
}

}  // namespace
}  // namespace nomad::jobs
