// The checks a registration passes before the cluster sees it: an agent with a valid
// certificate still may not commit a capacity the rules refuse.

#include <gtest/gtest.h>

#include <cmath>

#include "api/agents.h"

namespace nomad::api {
namespace {

nomad_lite::RegisterAgentRequest request() {
  nomad_lite::RegisterAgentRequest r;
  r.set_address("127.0.0.1:7001");
  r.set_name("agent-a");
  r.set_slots(4);
  r.mutable_capacity()->set_cpu(2);
  (*r.mutable_capacity()->mutable_labels())["gpu"] = "true";
  return r;
}

TEST(AgentRegisterCheck, AWellFormedRequestPasses) {
  EXPECT_EQ(AgentRegistrar::check(request()).code, Code::kOk);
}

TEST(AgentRegisterCheck, ABadCapacityIsRefusedNamingTheField) {
  auto nan_cpu = request();
  nan_cpu.mutable_capacity()->set_cpu(std::nan(""));
  Error e = AgentRegistrar::check(nan_cpu);
  EXPECT_EQ(e.code, Code::kInvalidArgument);
  EXPECT_NE(e.message.find("cpu"), std::string::npos) << e.message;

  auto many = request();
  for (int i = 0; i < 1000; ++i) {
    (*many.mutable_capacity()->mutable_labels())["k" + std::to_string(i)] = "v";
  }
  e = AgentRegistrar::check(many);
  EXPECT_EQ(e.code, Code::kInvalidArgument);
  EXPECT_NE(e.message.find("labels"), std::string::npos) << e.message;
}

}  // namespace
}  // namespace nomad::api
