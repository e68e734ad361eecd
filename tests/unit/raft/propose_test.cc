// Client proposals: who accepts them, and how they are batched on their way to followers.

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;
using test::commands;
using test::of_type;

std::vector<Message> appends_with_entries(const std::vector<Message>& ms, NodeId to) {
  std::vector<Message> out;
  for (const Message& m : of_type(ms, MessageType::kAppend, to)) {
    if (!m.entries.empty()) out.push_back(m);
  }
  return out;
}

// §8: "If the client's first choice is not the leader, that server will reject the client's
// request and supply information about the most recent leader it has heard from."
TEST(ProposeTest, FollowerRefusesProposalWithLeaderHint) {
  Cluster c;
  ProposeResult r = c.core(2).propose("too early");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.leader_hint, kNoNode) << "no leader is known yet";

  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Index last = c.core(2).log().last_index();
  r = c.core(2).propose("x");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.leader_hint, 1u);
  EXPECT_EQ(c.core(2).log().last_index(), last);

  r = c.core(1).propose("x");
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.term, c.core(1).term());
  EXPECT_EQ(r.first_index, last + 1);
  EXPECT_EQ(r.last_index, last + 1);
}

// Many commands in one propose() call are appended together: one Ready persists them all (one
// sync) and each follower receives them in a single AppendEntries.
TEST(ProposeTest, ProposalsOfOneCallTravelInOneAppendAndOneReady) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Index last = c.core(1).log().last_index();

  ProposeResult r = c.core(1).propose(commands(5));
  ASSERT_TRUE(r.accepted);
  EXPECT_EQ(r.first_index, last + 1);
  EXPECT_EQ(r.last_index, last + 5);

  Ready rd = c.cycle(1);
  ASSERT_EQ(rd.entries.size(), 5u);
  EXPECT_EQ(rd.entries.front().index, last + 1);
  EXPECT_EQ(rd.entries.back().data, "cmd4");
  for (NodeId to : {2, 3}) {
    auto appends = appends_with_entries(rd.messages, to);
    ASSERT_EQ(appends.size(), 1u) << "to node " << to;
    EXPECT_EQ(appends[0].index, last);
    EXPECT_EQ(appends[0].entries, rd.entries);
  }
}

// When the in-flight window to a follower is full, later proposals wait, and when an
// acknowledgement reopens the window they leave together in one AppendEntries.
TEST(ProposeTest, ProposalsWaitingForFullInflightWindowAreSentAsOneBatch) {
  ClusterOptions o;
  o.tweak = [](Config& cfg) { cfg.max_inflight_appends = 2; };
  Cluster c(o);
  ASSERT_TRUE(c.elect(1));
  c.stabilize();

  for (const char* cmd : {"a", "b"}) {
    ASSERT_TRUE(c.core(1).propose(cmd).accepted);
    EXPECT_EQ(appends_with_entries(c.process(1), 2).size(), 1u) << cmd;
  }
  for (const char* cmd : {"c", "d", "e"}) {
    ASSERT_TRUE(c.core(1).propose(cmd).accepted);
    EXPECT_TRUE(appends_with_entries(c.process(1), 2).empty()) << cmd << " sent past a full window";
  }

  c.deliver_where([](const Message& m) { return m.to == 2; });
  c.process(2);
  auto acks = c.take([](const Message& m) { return m.from == 2; });
  ASSERT_EQ(acks.size(), 2u);
  c.deliver(acks[0]);
  auto batch = appends_with_entries(c.process(1), 2);
  ASSERT_EQ(batch.size(), 1u);
  ASSERT_EQ(batch[0].entries.size(), 3u);
  EXPECT_EQ(batch[0].entries[0].data, "c");
  EXPECT_EQ(batch[0].entries[2].data, "e");

  c.deliver(acks[1]);
  c.stabilize();
  c.tick_all(c.core(1).config().heartbeat_ticks);
  for (NodeId id : c.ids()) {
    EXPECT_EQ(c.core(id).commit_index(), c.core(1).log().last_index()) << "node " << id;
  }
}

}  // namespace
}  // namespace nomad::raft
