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

// Flags with one member set, by a pointer to it.
template <class T>
CapacityFlags with(T CapacityFlags::*member, T value) {
  CapacityFlags flags;
  flags.*member = std::move(value);
  return flags;
}
using Labels = std::vector<std::string>;

Labels sixty_five_labels() {
  Labels labels;
  for (int i = 0; i < 65; ++i) labels.push_back("k" + std::to_string(i) + "=v");
  return labels;
}

TEST(Capacity, BadFlagsNameTheFlag) {
  struct Case {
    CapacityFlags flags;
    const char* expected;
  };
  const Case cases[] = {
      {with(&CapacityFlags::cpu, std::string("two")), "--cpu"},
      {with(&CapacityFlags::cpu, std::string("-1")), "--cpu"},
      {with(&CapacityFlags::memory, std::string("lots")), "--memory"},
      {with(&CapacityFlags::labels, Labels{"gpu"}), "key=value"},
      {with(&CapacityFlags::labels, Labels{"=x"}), "key=value"},
      {with(&CapacityFlags::labels, Labels{"a b=c"}), "key"},
      {with(&CapacityFlags::labels, Labels{"k=v w"}), "value"},
      {with(&CapacityFlags::labels, Labels{"k=1", "k=2"}), "twice"},
      {with(&CapacityFlags::name, std::string("a\nb")), "--node-name"},
      {with(&CapacityFlags::labels, sixty_five_labels()), "at most 64"},
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
