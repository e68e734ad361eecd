// Raft messages to and from the wire (transport/convert.h).

#include "transport/convert.h"

#include <gtest/gtest.h>

namespace nomad::transport {
namespace {

TEST(ConvertTest, ACommitOnlyAppendKeepsItsMarkOnTheWire) {
  raft::Message m{.type = raft::MessageType::kAppend,
                  .from = 1,
                  .to = 2,
                  .term = 3,
                  .index = 7,
                  .log_term = 3,
                  .commit = 7,
                  .commit_only = true};
  nomad_lite::RaftMessage wire;
  to_wire(m, &wire);
  nomad_lite::RaftMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire.SerializeAsString()));
  raft::Message back;
  std::string why;
  ASSERT_TRUE(from_wire(parsed, &back, &why)) << why;
  EXPECT_TRUE(back.commit_only);
  EXPECT_EQ(back.index, 7u);
  EXPECT_EQ(back.commit, 7u);
}

// A node built before commit-only appends sends no such field: its appends are read as
// ordinary ones, which the follower acknowledges as before.
TEST(ConvertTest, AnAppendWithoutTheCommitOnlyFieldIsAnOrdinaryAppend) {
  nomad_lite::RaftMessage old;
  old.set_type(static_cast<uint32_t>(raft::MessageType::kAppend));
  old.set_from(1);
  old.set_to(2);
  old.set_term(3);
  old.set_index(7);
  old.set_log_term(3);
  old.set_commit(7);
  nomad_lite::RaftMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(old.SerializeAsString()));
  raft::Message m;
  std::string why;
  ASSERT_TRUE(from_wire(parsed, &m, &why)) << why;
  EXPECT_FALSE(m.commit_only);
  EXPECT_EQ(m.commit, 7u);
}

// ReadIndex requests and answers, and the read round heartbeats carry, cross the wire.
TEST(ConvertTest, ReadIndexMessagesAndTheHeartbeatsReadRoundSurviveTheWire) {
  for (raft::MessageType type :
       {raft::MessageType::kReadIndex, raft::MessageType::kReadIndexResponse,
        raft::MessageType::kHeartbeat, raft::MessageType::kHeartbeatResponse}) {
    raft::Message m{.type = type, .from = 2, .to = 1, .term = 4, .index = 9, .read_context = 77};
    nomad_lite::RaftMessage wire;
    to_wire(m, &wire);
    nomad_lite::RaftMessage parsed;
    ASSERT_TRUE(parsed.ParseFromString(wire.SerializeAsString()));
    raft::Message back;
    std::string why;
    ASSERT_TRUE(from_wire(parsed, &back, &why)) << why;
    EXPECT_EQ(back.type, type);
    EXPECT_EQ(back.read_context, 77u);
    EXPECT_EQ(back.index, 9u);
  }
  nomad_lite::RaftMessage unknown;
  unknown.set_type(static_cast<uint32_t>(raft::MessageType::kReadIndexResponse) + 1);
  raft::Message m;
  std::string why;
  EXPECT_FALSE(from_wire(unknown, &m, &why));
  EXPECT_NE(why.find("unknown message type"), std::string::npos);
}

}  // namespace
}  // namespace nomad::transport
