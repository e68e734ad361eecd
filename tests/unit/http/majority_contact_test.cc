#include "http/majority_contact.h"

#include <gtest/gtest.h>

namespace nomad::http {
namespace {

// A status as node `self` answers it: `contacts` are the peers' last_contact_ms in id order
// (-1: never heard).
nomad_lite::GetClusterStatusResponse status(uint64_t self, std::vector<int64_t> contacts) {
  nomad_lite::GetClusterStatusResponse s;
  s.set_node_id(self);
  uint64_t id = 1;
  auto add = [&](int64_t contact) {
    auto* n = s.add_nodes();
    n->set_id(id++);
    n->set_last_contact_ms(contact);
  };
  size_t i = 0;
  for (uint64_t n = 1; n <= contacts.size() + 1; ++n) add(n == self ? 0 : contacts[i++]);
  return s;
}

TEST(MajorityContact, ANodeHearingAllOrAMajorityOfItsPeersHearsTheMajority) {
  EXPECT_TRUE(hears_majority(status(1, {20, 150})));
  EXPECT_TRUE(hears_majority(status(2, {30, -1})));            // 2 of 3
  EXPECT_TRUE(hears_majority(status(3, {10, 5000, 40, -1})));  // 3 of 5
}

TEST(MajorityContact, AnIsolatedNodeOrAMinorityDoesNot) {
  EXPECT_FALSE(hears_majority(status(1, {700, 900})));           // isolated old leader
  EXPECT_FALSE(hears_majority(status(1, {-1, -1})));             // never heard anyone
  EXPECT_FALSE(hears_majority(status(5, {20, 5000, -1, 800})));  // 2 of 5
}

TEST(MajorityContact, TheWindowDecidesWhatCountsAsHeard) {
  EXPECT_TRUE(hears_majority(status(1, {600, 900})));
  EXPECT_FALSE(hears_majority(status(1, {601, 900})));
  EXPECT_TRUE(hears_majority(status(1, {900, 2000}), std::chrono::milliseconds(1000)));
}

TEST(MajorityContact, ASingleNodeClusterAlwaysHearsItself) {
  EXPECT_TRUE(hears_majority(status(1, {})));
}

}  // namespace
}  // namespace nomad::http
