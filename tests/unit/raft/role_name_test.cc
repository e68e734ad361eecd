// A role's name is what the cluster status shows on the wire and in JSON ("leader", ...):
// role_name and role_from_name are each other's inverse, and nothing else parses.

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "raft/types.h"

namespace nomad::raft {
namespace {

TEST(RoleName, EachRoleHasTheNameTheWireShowsAndParsesBack) {
  const std::pair<Role, std::string> expected[] = {{Role::kFollower, "follower"},
                                                   {Role::kPreCandidate, "pre-candidate"},
                                                   {Role::kCandidate, "candidate"},
                                                   {Role::kLeader, "leader"}};
  for (const auto& [role, name] : expected) {
    EXPECT_EQ(role_name(role), name);
    Role parsed = role == Role::kLeader ? Role::kFollower : Role::kLeader;
    ASSERT_TRUE(role_from_name(name, &parsed)) << name;
    EXPECT_EQ(parsed, role) << name;
  }
}

TEST(RoleName, AnyOtherTextIsNoRole) {
  for (const std::string name : {"", "unknown", "Leader", "leader ", "precandidate"}) {
    Role role = Role::kCandidate;
    EXPECT_FALSE(role_from_name(name, &role)) << name;
    EXPECT_EQ(role, Role::kCandidate) << "changed by '" << name << "'";
  }
}

}  // namespace
}  // namespace nomad::raft
