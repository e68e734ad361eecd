// Membership changes (thesis chapter 4): one server at a time, effective when appended and
// rolled back when truncated, learners that catch up and are promoted by the leader, a leader
// that removes itself, removed servers that cannot disrupt, and the configuration kept in the
// log, in snapshots and across restarts.

#include "raft/membership.h"

#include <gtest/gtest.h>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;

ConfChange add_learner(NodeId id) {
  return {.kind = ConfChange::Kind::kAddLearner,
          .id = id,
          .address = "127.0.0.1:" + std::to_string(7000 + id)};
}
ConfChange remove(NodeId id) { return {.kind = ConfChange::Kind::kRemove, .id = id}; }

std::vector<NodeId> voters_of(const Core& core) { return core.membership().voters(); }

// Elects node 1 and lets its no-op commit: a new leader changes the configuration only then.
void elect_one(Cluster& c) {
  ASSERT_TRUE(c.elect(1));
  c.stabilize();
}

TEST(MembershipTest, AddedServerJoinsAsLearnerAndTheLeaderPromotesIt) {
  Cluster c;
  elect_one(c);
  c.add_joining_node(4);
  EXPECT_TRUE(c.core(4).membership().empty()) << "a joining node starts with no membership";

  std::string why;
  ProposeResult r = c.core(1).propose_conf_change(add_learner(4), &why);
  ASSERT_TRUE(r.accepted) << why;
  // Effective when appended, before it commits (§4.1).
  const Member* m = c.core(1).membership().find(4);
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->voter);
  EXPECT_EQ(m->address, "127.0.0.1:7004");
  EXPECT_EQ(c.core(1).membership().index, r.first_index);
  EXPECT_GT(r.first_index, c.core(1).commit_index());
  EXPECT_EQ(c.core(1).quorum(), 2u) << "a learner is not counted";

  c.stabilize();
  // Caught up: the leader promoted it on its own; every node, node 4 too, agrees.
  for (NodeId id : {1, 2, 3, 4}) {
    EXPECT_EQ(voters_of(c.core(id)), (std::vector<NodeId>{1, 2, 3, 4})) << "node " << id;
  }
  EXPECT_EQ(c.core(1).quorum(), 3u);
  EXPECT_EQ(c.core(4).commit_index(), c.core(1).log().last_index());
  EXPECT_TRUE(c.core(1).propose("after").accepted);
  c.stabilize();
  EXPECT_EQ(c.node(4).state().back(), "after");
  c.expect_state_machine_safety();
}

TEST(MembershipTest, OneChangeAtATime) {
  Cluster c;
  elect_one(c);
  c.add_joining_node(4);
  c.add_joining_node(5);
  ASSERT_TRUE(c.core(1).propose_conf_change(add_learner(4)).accepted);
  std::string why;
  EXPECT_FALSE(c.core(1).propose_conf_change(add_learner(5), &why).accepted);
  EXPECT_NE(why.find("not committed yet"), std::string::npos) << why;
  c.stabilize();  // commits the addition and node 4's promotion
  why.clear();
  EXPECT_TRUE(c.core(1).propose_conf_change(add_learner(5), &why).accepted) << why;
  c.stabilize();
  EXPECT_EQ(voters_of(c.core(1)), (std::vector<NodeId>{1, 2, 3, 4, 5}));
}

TEST(MembershipTest, InvalidChangesAreRefusedWithAReason) {
  Cluster c;
  elect_one(c);
  struct Case {
    ConfChange change;
    const char* expect;
  };
  const Case cases[] = {
      {add_learner(2), "already a member"},
      {remove(9), "not a member"},
      {{.kind = ConfChange::Kind::kPromote, .id = 2}, "already a voter"},
      {{.kind = ConfChange::Kind::kPromote, .id = 9}, "not a member"},
      {add_learner(0), "non-zero"},
  };
  for (const Case& k : cases) {
    std::string why;
    EXPECT_FALSE(c.core(1).propose_conf_change(k.change, &why).accepted) << k.expect;
    EXPECT_NE(why.find(k.expect), std::string::npos) << why;
  }
  std::string why;
  EXPECT_FALSE(c.core(2).propose_conf_change(add_learner(4), &why).accepted);
  EXPECT_NE(why.find("not the leader"), std::string::npos) << why;

  Membership one = bootstrap_membership({1}, {});
  EXPECT_FALSE(check_conf_change(one, remove(1)));
}

TEST(MembershipTest, NewLeaderChangesNothingBeforeItsOwnEntryCommits) {
  Cluster c;
  ASSERT_TRUE(c.elect(1));  // its no-op is appended, not yet committed
  std::string why;
  c.add_joining_node(4);
  EXPECT_FALSE(c.core(1).propose_conf_change(add_learner(4), &why).accepted);
  EXPECT_NE(why.find("not committed an entry of its term"), std::string::npos) << why;
  c.stabilize();
  EXPECT_TRUE(c.core(1).propose_conf_change(add_learner(4)).accepted);
}

// A learner's copy never counts toward a commit; the planted bug that counts it is caught.
TEST(MembershipTest, LearnerIsNeverCountedInAMajority) {
  for (bool bug : {false, true}) {
    ClusterOptions o;
    o.tweak = [bug](Config& config) { config.bugs.count_learners_in_quorum = bug; };
    Cluster c(o);
    elect_one(c);
    c.add_joining_node(4, o.tweak);
    c.cut(1, 2);
    c.cut(1, 3);
    const Index commit = c.core(1).commit_index();
    ASSERT_TRUE(c.core(1).propose_conf_change(add_learner(4)).accepted);
    c.stabilize();
    ASSERT_TRUE(c.core(1).propose("x").accepted);
    c.stabilize();
    EXPECT_EQ(c.core(4).log().last_index(), c.core(1).log().last_index());
    if (bug) {
      EXPECT_GT(c.core(1).commit_index(), commit) << "the planted bug should commit with 1 + 4";
    } else {
      EXPECT_EQ(c.core(1).commit_index(), commit) << "leader + learner is no majority of 3";
    }
  }
}

TEST(MembershipTest, ConfigurationRollsBackWhenItsEntryIsTruncated) {
  Cluster c;
  elect_one(c);
  c.add_joining_node(4);
  c.isolate(1);
  ASSERT_TRUE(c.core(1).propose_conf_change(add_learner(4)).accepted);
  c.stabilize();
  ASSERT_TRUE(c.core(1).membership().is_member(4));
  const Term old_term = c.core(1).term();

  // 2 and 3 elect a leader of a later term that never saw the change.
  for (int i = 0; i < 100 && c.leader() == 1; ++i) c.tick_all(1);
  NodeId leader = c.leader();
  ASSERT_TRUE(leader == 2 || leader == 3);
  ASSERT_GT(c.core(leader).term(), old_term);
  c.heal();
  c.cut(1, 4);
  c.cut(4, 2);
  c.cut(4, 3);
  ASSERT_TRUE(c.core(leader).propose("new").accepted);
  c.tick_all(c.core(leader).config().heartbeat_ticks + 1);  // a heartbeat reaches node 1
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_EQ(c.core(1).log().last_index(), c.core(leader).log().last_index());
  EXPECT_FALSE(c.core(1).membership().is_member(4)) << "the cut entry's configuration stayed";
  EXPECT_EQ(voters_of(c.core(1)), (std::vector<NodeId>{1, 2, 3}));
}

// A node restarting in the middle of a change: the uncommitted configuration entry in its log
// is in force again (it took effect when appended), and the change completes after the restart.
TEST(MembershipTest, RestartMidChangeKeepsTheAppendedConfiguration) {
  Cluster c;
  elect_one(c);
  c.add_joining_node(4);
  c.isolate(1);
  ProposeResult r = c.core(1).propose_conf_change(add_learner(4));
  ASSERT_TRUE(r.accepted);
  c.process(1);
  c.node(1).restart();
  EXPECT_LT(c.core(1).commit_index(), r.first_index);
  EXPECT_TRUE(c.core(1).membership().is_member(4));
  EXPECT_EQ(c.core(1).membership().index, r.first_index);
  // Whoever wins next (node 1 with the entry, or 2 or 3 cutting it), the nodes agree again.
  c.heal();
  c.tick_all(6 * c.core(1).config().election_ticks);
  NodeId leader = c.leader();
  ASSERT_NE(leader, kNoNode);
  for (NodeId id : {1, 2, 3}) {
    EXPECT_EQ(c.core(id).membership(), c.core(leader).membership()) << "node " << id;
    EXPECT_EQ(c.core(id).commit_index(), c.core(leader).commit_index()) << "node " << id;
  }
  c.expect_state_machine_safety();
}

TEST(MembershipTest, ReadyCarriesTheMembershipWhenItChanges) {
  Cluster c;
  Ready first = c.node(1).cycle();
  ASSERT_TRUE(first.membership.has_value()) << "the first Ready carries the membership";
  EXPECT_EQ(first.membership->voters(), (std::vector<NodeId>{1, 2, 3}));
  elect_one(c);
  c.add_joining_node(4);
  ASSERT_TRUE(c.core(1).propose_conf_change(add_learner(4)).accepted);
  Ready rd = c.cycle(1);
  ASSERT_TRUE(rd.membership.has_value());
  EXPECT_TRUE(rd.membership->is_member(4));
  Ready next = c.cycle(1);
  EXPECT_FALSE(next.membership.has_value()) << "handed out once";
}

// §4.2.2: the leader keeps replicating without counting itself, then steps down once the
// change commits; the rest go on without it, and it never campaigns again.
TEST(MembershipTest, LeaderRemovingItselfStepsDownOnceTheChangeCommits) {
  Cluster c;
  elect_one(c);
  const Term term = c.core(1).term();
  c.cut(1, 3);
  ProposeResult r = c.core(1).propose_conf_change(remove(1));
  ASSERT_TRUE(r.accepted);
  c.stabilize();
  // Voters {2, 3}: node 2's copy alone is no majority, and the leader does not count itself.
  EXPECT_LT(c.core(1).commit_index(), r.first_index);
  EXPECT_EQ(c.core(1).role(), Role::kLeader);
  EXPECT_EQ(c.core(1).quorum(), 2u);

  c.heal();
  c.tick_all(c.core(1).config().heartbeat_ticks + 1);
  EXPECT_NE(c.core(1).role(), Role::kLeader);
  const int et = c.core(2).config().election_ticks;
  c.tick_all(4 * et);
  NodeId leader = c.leader();
  ASSERT_TRUE(leader == 2 || leader == 3) << "leader " << leader;
  EXPECT_GT(c.core(leader).term(), term);
  EXPECT_GE(c.core(leader).commit_index(), r.first_index);
  ASSERT_TRUE(c.core(leader).propose("without 1").accepted);
  c.tick_all(4 * et);
  EXPECT_EQ(c.leader(), leader);
  EXPECT_EQ(c.core(1).role(), Role::kFollower) << "a removed server campaigned";
}

// §4.2.3: a server removed while cut off never learns of it and keeps timing out; pre-vote
// and the leader lease keep it from disturbing the remaining cluster.
TEST(MembershipTest, RemovedServerCannotDisruptTheCluster) {
  Cluster c;
  elect_one(c);
  c.isolate(3);
  ProposeResult r = c.core(1).propose_conf_change(remove(3));
  ASSERT_TRUE(r.accepted);
  c.stabilize();
  ASSERT_GE(c.core(1).commit_index(), r.first_index) << "1 and 2 commit the removal";
  EXPECT_TRUE(c.core(3).membership().is_voter(3)) << "3 never heard of it";
  const Term term = c.core(1).term();

  const int et = c.core(1).config().election_ticks;
  for (int i = 0; i < 20 * et; ++i) {
    c.tick_all(1);
    if (i == et) c.heal();  // 3 is back, still believing it is a voter
  }
  EXPECT_EQ(c.leader(), 1u);
  EXPECT_EQ(c.core(1).term(), term) << "the removed server disrupted the leader";
  EXPECT_EQ(c.core(2).term(), term);
  EXPECT_NE(c.core(3).role(), Role::kLeader);
  EXPECT_TRUE(c.core(1).propose("still fine").accepted);
}

TEST(MembershipTest, JoiningNodeNeverCampaigns) {
  Cluster c;
  test::Node& n = c.add_joining_node(4);
  const int et = n.core().config().election_ticks;
  for (int i = 0; i < 10 * et; ++i) {
    n.core().tick();
    EXPECT_TRUE(n.drain().empty()) << "a node without membership sent a message";
  }
  EXPECT_EQ(n.core().role(), Role::kFollower);
  EXPECT_EQ(n.core().term(), 0u);

  Config bad;
  bad.id = 4;
  bad.join = true;
  bad.voters = {1, 2, 4};
  EXPECT_FALSE(bad.validate());
  bad.join = false;
  bad.voters = {};
  EXPECT_FALSE(bad.validate());
}

TEST(MembershipTest, MembershipSurvivesRestartsCompactionAndSnapshots) {
  Cluster c;
  elect_one(c);
  c.add_joining_node(4);
  ASSERT_TRUE(c.core(1).propose_conf_change(add_learner(4)).accepted);
  c.stabilize();
  ASSERT_EQ(voters_of(c.core(1)), (std::vector<NodeId>{1, 2, 3, 4}));

  // From the log: restarts with the configuration entries still in it.
  c.node(2).restart();
  EXPECT_EQ(voters_of(c.core(2)), (std::vector<NodeId>{1, 2, 3, 4}));
  EXPECT_EQ(c.core(2).membership().find(4)->address, "127.0.0.1:7004");

  // From snapshots: the configuration entries compacted away.
  for (NodeId id : {1, 2, 3, 4}) {
    ASSERT_TRUE(c.node(id).compact(c.node(id).applied_index())) << "node " << id;
    EXPECT_EQ(c.core(id).snapshot().membership.voters(), (std::vector<NodeId>{1, 2, 3, 4}));
  }
  c.node(3).restart_from_snapshot();
  EXPECT_EQ(voters_of(c.core(3)), (std::vector<NodeId>{1, 2, 3, 4}));

  // InstallSnapshot carries it to a new node whose log starts after it.
  c.add_joining_node(5);
  ASSERT_TRUE(c.core(1).propose_conf_change(add_learner(5)).accepted);
  c.stabilize();
  ASSERT_FALSE(c.node(5).installed_snapshots().empty()) << "node 5 should need the snapshot";
  EXPECT_EQ(voters_of(c.core(5)), (std::vector<NodeId>{1, 2, 3, 4, 5}));
  c.node(5).restart();
  EXPECT_EQ(voters_of(c.core(5)), (std::vector<NodeId>{1, 2, 3, 4, 5}));
  c.tick_all(3 * c.core(1).config().election_ticks);
  EXPECT_EQ(c.leader(), 1u);
}

TEST(MembershipTest, MemberProgressListsVotersAndLearners) {
  Cluster c;
  elect_one(c);
  EXPECT_TRUE(c.core(2).member_progress().empty()) << "only the leader knows progress";
  c.add_joining_node(4);
  c.isolate(4);
  ASSERT_TRUE(c.core(1).propose_conf_change(add_learner(4)).accepted);
  c.stabilize();
  auto progress = c.core(1).member_progress();
  ASSERT_EQ(progress.size(), 4u);
  EXPECT_TRUE(progress[0].is_leader);
  EXPECT_EQ(progress[0].match, c.core(1).log().last_index());
  EXPECT_EQ(progress[1].match, c.core(1).log().last_index());
  EXPECT_FALSE(progress[3].voter);
  EXPECT_EQ(progress[3].match, 0u);
  EXPECT_EQ(progress[3].address, "127.0.0.1:7004");
}

TEST(MembershipTest, PlantedConcurrentChangesAreAccepted) {
  ClusterOptions o;
  o.tweak = [](Config& config) { config.bugs.allow_concurrent_conf_changes = true; };
  Cluster c(o);
  elect_one(c);
  c.add_joining_node(4, o.tweak);
  c.add_joining_node(5, o.tweak);
  EXPECT_TRUE(c.core(1).propose_conf_change(add_learner(4)).accepted);
  EXPECT_TRUE(c.core(1).propose_conf_change(add_learner(5)).accepted);
}

// ---- the byte formats ----------------------------------------------------------------------

Membership sample() {
  Membership m = bootstrap_membership({1, 2, 3}, {{1, "a:1"}, {3, "c:3"}});
  m = apply_conf_change(m, add_learner(7), 42);
  return m;
}

TEST(MembershipFormatTest, RoundTrips) {
  Membership m = sample();
  Membership back;
  ASSERT_TRUE(decode_membership(encode_membership(m), &back));
  EXPECT_EQ(back, m);
  ConfChange change = add_learner(7), change_back;
  Membership result;
  ASSERT_TRUE(decode_conf_entry(encode_conf_entry(change, m), &change_back, &result));
  EXPECT_EQ(change_back, change);
  EXPECT_EQ(result, m);
}

// Every prefix and every single-byte change of valid bytes decodes or is refused with an error;
// nothing crashes, and what decodes is well formed.
TEST(MembershipFormatTest, HostileBytesAreRefusedNeverCrash) {
  const std::string valid[] = {encode_membership(sample()),
                               encode_conf_entry(add_learner(7), sample())};
  for (int which = 0; which < 2; ++which) {
    const std::string& bytes = valid[which];
    auto decode = [which](const std::string& b) {
      Membership m;
      ConfChange cc;
      Status s = which == 0 ? decode_membership(b, &m) : decode_conf_entry(b, &cc, &m);
      if (s) {
        EXPECT_TRUE(check_membership(m)) << "decoded an ill-formed membership";
      } else {
        EXPECT_FALSE(s.message().empty());
      }
      return static_cast<bool>(s);
    };
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(decode(bytes.substr(0, n))) << "a prefix of " << n << " bytes decoded";
    }
    EXPECT_FALSE(decode(bytes + "x")) << "trailing bytes accepted";
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (int v : {0x00, 0x01, 0x7f, 0xff}) {
        std::string b = bytes;
        b[i] = static_cast<char>(v);
        decode(b);
      }
    }
  }
  Membership m;
  std::string huge_count = encode_membership(bootstrap_membership({1}, {}));
  huge_count[13] = huge_count[14] = huge_count[15] = huge_count[16] = static_cast<char>(0xff);
  Status s = decode_membership(huge_count, &m);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("impossible"), std::string::npos) << s.message();
}

// A configuration entry that does not decode never reaches a follower's log.
TEST(MembershipFormatTest, AppendWithMalformedConfigurationEntryIsRefused) {
  Cluster c;
  elect_one(c);
  const Term t = c.core(1).term();
  const Index last = c.core(2).log().last_index();
  Message m = test::append_request(1, 2, t, last, t,
                                   {Entry{t, last + 1, EntryType::kConfChange, "NLCC garbage"}}, 0);
  std::string why;
  EXPECT_FALSE(c.core(2).step(m, &why));
  EXPECT_NE(why.find("malformed configuration"), std::string::npos) << why;
  EXPECT_EQ(c.core(2).log().last_index(), last);
}

}  // namespace
}  // namespace nomad::raft
