#include "worker/capacity.h"

#include <gtest/gtest.h>

namespace nomad::worker {
namespace {

TEST(Capacity, DefaultsToWhatTheMachineHas) {
  nomad_lite::NodeCapacity machine = machine_capacity();
  EXPECT_GE(machine.cpu(), 1);
  EXPECT_GT(machine.memory_bytes(), 16ull << 20);
  EXPECT_FALSE(machine.name().empty());
  nomad_lite::NodeCapacity capacity;
  ASSERT_TRUE(capacity_from_flags({}, &capacity));
  EXPECT_EQ(capacity.cpu(), machine.cpu());
  EXPECT_EQ(capacity.memory_bytes(), machine.memory_bytes());
  EXPECT_TRUE(capacity.labels().empty());
}

TEST(Capacity, FlagsOverrideTheMachine) {
  nomad_lite::NodeCapacity capacity;
  ASSERT_TRUE(capacity_from_flags({.cpu = "0.5",
                                   .memory = "1.5GiB",
                                   .labels = {"gpu=true", "zone=eu-1", "empty="},
                                   .name = "builder-7"},
                                  &capacity));
  EXPECT_EQ(capacity.cpu(), 0.5);
  EXPECT_EQ(capacity.memory_bytes(), 3ull << 29);
  EXPECT_EQ(capacity.labels().at("gpu"), "true");
  EXPECT_EQ(capacity.labels().at("zone"), "eu-1");
  EXPECT_EQ(capacity.labels().at("empty"), "");
  EXPECT_EQ(capacity.name(), "builder-7");
}

CapacityFlags cpu(std::string v) {
  CapacityFlags f;
  f.cpu = v;
  return f;
}
CapacityFlags memory(std::string v) {
  CapacityFlags f;
  f.memory = v;
  return f;
}
CapacityFlags labels(std::vector<std::string> v) {
  CapacityFlags f;
  f.labels = v;
  return f;
}
CapacityFlags name(std::string v) {
  CapacityFlags f;
  f.name = v;
  return f;
}

TEST(Capacity, BadFlagsNameTheFlag) {
  struct Case {
    CapacityFlags flags;
    const char* expected;
  };
  const Case cases[] = {
      {cpu("two"), "--cpu"},         {cpu("-1"), "--cpu"},
      {memory("lots"), "--memory"},  {labels({"gpu"}), "key=value"},
      {labels({"=x"}), "key=value"}, {labels({"a b=c"}), "key"},
      {labels({"k=v w"}), "value"},  {labels({"k=1", "k=2"}), "twice"},
      {name("a\nb"), "--node-name"},
  };
  for (const auto& c : cases) {
    nomad_lite::NodeCapacity capacity;
    Status s = capacity_from_flags(c.flags, &capacity);
    ASSERT_FALSE(s) << c.expected;
    EXPECT_NE(s.message().find(c.expected), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace nomad::worker
