// Malformed or misdirected messages: refused with a reason, never a crash, never a state change.

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::append_request;
using test::Cluster;
using test::ClusterOptions;

struct Snapshot {
  Term term;
  NodeId vote;
  Role role;
  NodeId leader;
  Index last_index;
  Index commit;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const Core& c) {
  return {c.term(), c.vote(), c.role(), c.leader_id(), c.log().last_index(), c.commit_index()};
}

Entry entry(Term term, Index index) { return Entry{term, index, EntryType::kNormal, "x"}; }

// step() refuses what no correct peer sends: a message for another node, one from node 0,
// and an AppendEntries whose entries could not form a valid log suffix.
// A refused message must not even raise the term.
TEST(RobustnessTest, StepRefusesMisdirectedForeignOrInconsistentMessages) {
  ClusterOptions o;
  for (NodeId id : {1, 2, 3}) o.restored[id] = test::restored(5, {});
  Cluster c(o);
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
  const Term t = c.core(1).term();  // 6
  const Index last = c.core(2).log().last_index();
  ASSERT_EQ(c.core(2).log().last_term(), t);

  struct Case {
    const char* what;
    Message m;
  };
  Message to_other = test::message(MessageType::kHeartbeat, 1, 3, t + 1);
  Message from_nobody = append_request(kNoNode, 2, t + 1, last, t, {}, 0);
  const Case cases[] = {
      {"addressed to another node", to_other},
      {"from node 0", from_nobody},
      {"entries not starting at index+1",
       append_request(1, 2, t, last, t, {entry(t, last + 2)}, 0)},
      {"entries with a gap",
       append_request(1, 2, t, last, t, {entry(t, last + 1), entry(t, last + 3)}, 0)},
      {"entries going backwards",
       append_request(1, 2, t, last, t, {entry(t, last + 1), entry(t, last)}, 0)},
      {"entry terms decreasing",
       append_request(1, 2, t + 1, last, t, {entry(t + 1, last + 1), entry(t, last + 2)}, 0)},
      {"first entry term below the previous entry's term",
       append_request(1, 2, t, last, t, {entry(t - 2, last + 1)}, 0)},
      {"entry term above the message term",
       append_request(1, 2, t, last, t, {entry(t + 1, last + 1)}, 0)},
  };
  for (const Case& k : cases) {
    const Snapshot before = snapshot(c.core(2));
    std::string why;
    EXPECT_FALSE(c.core(2).step(k.m, &why)) << k.what;
    EXPECT_FALSE(why.empty()) << k.what << ": no reason given";
    c.process(2);
    EXPECT_TRUE(snapshot(c.core(2)) == before) << k.what << ": state changed";
    EXPECT_EQ(c.node(2).disk().entries.size(), last) << k.what;
    EXPECT_FALSE(c.core(2).step(k.m)) << k.what << " (without a reason pointer)";
  }

  // Node 2 still works normally afterwards.
  ASSERT_TRUE(c.core(1).propose("after").accepted);
  c.stabilize();
  EXPECT_EQ(c.core(2).log().last_index(), last + 1);
}

// An answer about entries the leader never sent (a buggy or confused peer), accepted or
// rejected, must not crash the leader, point its next index past its log, or commit beyond it.
TEST(RobustnessTest, LeaderSurvivesAppendResponseBeyondItsLog) {
  for (bool reject : {false, true}) {
    Cluster c;
    ASSERT_TRUE(c.elect(1));
    c.stabilize();
    const Term t = c.core(1).term();
    const Index last = c.core(1).log().last_index();

    for (NodeId from : {2, 3}) {
      Message r = test::message(MessageType::kAppendResponse, from, 1, t);
      r.index = last + 100;
      r.reject = reject;
      r.conflict_index = last + 50;
      c.core(1).step(r);
    }
    c.process(1);
    EXPECT_LE(c.core(1).commit_index(), c.core(1).log().last_index());
    for (const auto& [id, p] : c.core(1).progress()) {
      EXPECT_LE(p.next, c.core(1).log().last_index() + 1) << "next of node " << id;
    }

    // And replication still works.
    ASSERT_TRUE(c.core(1).propose("after").accepted);
    c.stabilize();
    EXPECT_EQ(c.core(1).commit_index(), c.core(1).log().last_index());
  }
}

}  // namespace
}  // namespace nomad::raft
