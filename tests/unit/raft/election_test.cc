// Leader election (§5.2 of the Raft paper and the RequestVote half of Figure 2).

#include <gtest/gtest.h>

#include <set>

#include "harness.h"

namespace nomad::raft {
namespace {

using test::Cluster;
using test::ClusterOptions;
using test::of_type;
using test::restored;
using test::vote_request;

ClusterOptions options(size_t nodes, bool pre_vote, bool check_quorum = true, uint64_t seed = 1) {
  ClusterOptions o;
  o.nodes = nodes;
  o.seed = seed;
  o.tweak = [=](Config& c) {
    c.pre_vote = pre_vote;
    c.check_quorum = check_quorum;
  };
  return o;
}

// Steps `m` into its target and returns the target's reply to m.from (the first one).
std::optional<Message> reply_to(Cluster& c, const Message& m, MessageType type) {
  c.deliver(m);
  auto replies = of_type(c.process(m.to), type, m.from);
  if (replies.empty()) return std::nullopt;
  return replies.front();
}

int ticks_to_campaign(Cluster& c, NodeId id) {
  return c.tick_until(
      id, [&] { return c.core(id).role() != Role::kFollower; }, 1000);
}

// Figure 2 (followers): "If election timeout elapses without receiving AppendEntries from
// current leader or granting vote to candidate: convert to candidate"; §5.2: the timeout is
// chosen randomly from a fixed interval, here [election_ticks, 2*election_ticks).
TEST(ElectionTest, FollowerStartsCampaignWithinRandomizedElectionTimeout) {
  for (bool pre_vote : {false, true}) {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      Cluster c(options(3, pre_vote, true, seed));
      const int et = c.core(1).config().election_ticks;
      int ticks = ticks_to_campaign(c, 1);
      EXPECT_GE(ticks, et) << "seed " << seed;
      EXPECT_LT(ticks, 2 * et) << "seed " << seed;
      if (pre_vote) {
        EXPECT_EQ(c.core(1).role(), Role::kPreCandidate);
        EXPECT_EQ(c.core(1).term(), 0u);
      } else {
        EXPECT_EQ(c.core(1).role(), Role::kCandidate);
        EXPECT_EQ(c.core(1).term(), 1u);
      }
    }
  }
}

// The same sentence, read the other way: hearing AppendEntries (or a heartbeat) from the
// current leader, or granting a vote, restarts the election timer; a follower that keeps
// hearing one of them more often than every election_ticks never campaigns.
TEST(ElectionTest, LeaderContactOrGrantedVoteRestartsElectionTimer) {
  const Message messages[] = {
      test::append_request(1, 2, 1, 0, 0, {}, 0), test::message(MessageType::kHeartbeat, 1, 2, 1),
      vote_request(3, 2, 1, 0, 0),  // granted again and again: a retransmitted request
  };
  for (const Message& m : messages) {
    Cluster c(options(3, /*pre_vote=*/false, /*check_quorum=*/false));
    const int et = c.core(2).config().election_ticks;
    for (int i = 0; i < 10 * et; ++i) {
      if (i % (et - 1) == 0) c.deliver(m);
      c.tick(2);
      c.drop_all();
      ASSERT_EQ(c.core(2).role(), Role::kFollower)
          << message_type_name(m.type) << ": campaigned at tick " << i;
    }
    EXPECT_EQ(c.core(2).term(), 1u);
  }
}

// §5.2: "Raft uses randomized election timeouts to ensure that split votes are rare". The
// randomness comes from the seed, so the same seed replays the same timeout.
TEST(ElectionTest, ElectionTimeoutsAreRandomizedBySeed) {
  std::set<int> seen;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Cluster a(options(3, false, true, seed));
    Cluster b(options(3, false, true, seed));
    int ticks = ticks_to_campaign(a, 1);
    EXPECT_EQ(ticks, ticks_to_campaign(b, 1)) << "seed " << seed << " is not reproducible";
    seen.insert(ticks);
  }
  EXPECT_GE(seen.size(), 5u) << "20 seeds produced only " << seen.size() << " timeouts";
}

// §5.2: "To begin an election, a follower increments its current term and transitions to
// candidate state. It then votes for itself and issues RequestVote RPCs"; Figure 2: the vote
// is persistent state, updated on stable storage before responding to (or sending) RPCs.
TEST(ElectionTest, CandidateIncrementsTermAndPersistsOwnVoteInSameReadyAsVoteRequests) {
  Cluster c(options(3, /*pre_vote=*/false));
  ASSERT_TRUE(c.tick_until_role(1, Role::kCandidate));
  EXPECT_EQ(c.core(1).term(), 1u);
  EXPECT_EQ(c.core(1).vote(), 1u);

  Ready rd = c.cycle(1);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, 1u);
  EXPECT_EQ(rd.hard_state->vote, 1u);
  EXPECT_TRUE(of_type(rd.messages, MessageType::kVote).empty())
      << "left before the vote was durable";
  auto requests = of_type(rd.messages_after_append, MessageType::kVote);
  ASSERT_EQ(requests.size(), 2u);
  for (const Message& m : requests) {
    EXPECT_EQ(m.term, 1u);
    EXPECT_EQ(m.index, 0u);
    EXPECT_EQ(m.log_term, 0u);
  }
  EXPECT_EQ(c.node(1).disk().hard_state.vote, 1u);
}

// Figure 2 (RequestVote receiver): "If votedFor is null or candidateId ... grant vote"; each
// server votes for at most one candidate in a given term (§5.2). A retransmitted request from
// the same candidate gets the same answer.
TEST(ElectionTest, VoteIsGrantedToAtMostOneCandidatePerTerm) {
  Cluster c(options(3, false, /*check_quorum=*/false));
  auto r = reply_to(c, vote_request(2, 1, 1, 0, 0), MessageType::kVoteResponse);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->reject);
  EXPECT_EQ(c.core(1).vote(), 2u);
  EXPECT_EQ(c.node(1).disk().hard_state.vote, 2u);

  r = reply_to(c, vote_request(3, 1, 1, 0, 0), MessageType::kVoteResponse);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->reject) << "second vote granted in term 1";
  EXPECT_EQ(c.core(1).vote(), 2u);

  r = reply_to(c, vote_request(2, 1, 1, 0, 0), MessageType::kVoteResponse);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->reject) << "a retransmitted request from the same candidate is refused";
}

// The vote belongs to the term, not to the role: a candidate that learns of the term's leader
// and steps down still voted (for itself) in that term and may not vote again.
TEST(ElectionTest, VoteIsKeptWhenCandidateStepsDownWithinTheSameTerm) {
  Cluster c(options(3, false, /*check_quorum=*/false));
  ASSERT_TRUE(c.tick_until_role(1, Role::kCandidate));
  c.process(1);
  c.deliver(test::append_request(2, 1, 1, 0, 0, {}, 0));
  c.process(1);
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_EQ(c.core(1).term(), 1u);
  EXPECT_EQ(c.core(1).vote(), 1u);

  auto r = reply_to(c, vote_request(3, 1, 1, 5, 1), MessageType::kVoteResponse);
  EXPECT_TRUE(!r || r->reject) << "voted for 3 in term 1 after voting for itself";
  EXPECT_EQ(c.core(1).vote(), 1u);
}

// §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the
// candidate". The higher term is adopted either way.
TEST(ElectionTest, VoteIsGrantedOnlyToCandidateWithLogAtLeastAsUpToDate) {
  ClusterOptions o = options(3, false, false);
  o.restored[1] = restored(2, {1, 2});  // last entry (2, t2)
  Cluster c(o);

  struct Case {
    NodeId candidate;
    Term term;
    Index last_index;
    Term last_term;
    bool granted;
  };
  const Case cases[] = {
      {2, 3, 5, 1, false},  // longer, but its last term is older
      {3, 3, 1, 2, false},  // same last term, shorter
      {2, 4, 2, 2, true},   // identical last entry
      {3, 5, 1, 3, true},   // later last term, shorter
  };
  for (const Case& k : cases) {
    auto r = reply_to(c, vote_request(k.candidate, 1, k.term, k.last_index, k.last_term),
                      MessageType::kVoteResponse);
    ASSERT_TRUE(r) << "term " << k.term;
    EXPECT_EQ(r->reject, !k.granted) << "term " << k.term;
    EXPECT_EQ(c.core(1).term(), k.term);
    EXPECT_EQ(c.core(1).vote(), k.granted ? k.candidate : kNoNode) << "term " << k.term;
  }
}

// Figure 2 (RequestVote and AppendEntries receivers): "Reply false if term < currentTerm".
// A stale request changes nothing. A stale leader must also hear of the newer term ("for
// leader to update itself"): with pre-vote and check-quorum nothing else would ever depose it.
TEST(ElectionTest, RequestsWithStaleTermAreRefusedWithTheCurrentTerm) {
  ClusterOptions o = options(3, true);
  o.restored[1] = restored(5, {1});
  Cluster c(o);

  for (bool pre_vote : {false, true}) {
    auto type = pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
    auto r = reply_to(c, vote_request(2, 1, 3, 9, 4, pre_vote), type);
    ASSERT_TRUE(r) << "a stale candidate is never told the current term";
    EXPECT_TRUE(r->reject);
    EXPECT_EQ(r->term, 5u);
    EXPECT_EQ(c.core(1).term(), 5u);
    EXPECT_EQ(c.core(1).vote(), kNoNode);
  }

  c.deliver(test::append_request(2, 1, 3, 1, 1, test::entries_with_terms({3}, 2), 2));
  auto replies = c.process(1);
  ASSERT_EQ(replies.size(), 1u) << "a stale leader is never told about the newer term";
  EXPECT_EQ(replies.front().to, 2u);
  EXPECT_EQ(replies.front().term, 5u);
  EXPECT_EQ(c.core(1).term(), 5u);
  EXPECT_EQ(c.core(1).log().last_index(), 1u);
  EXPECT_EQ(c.core(1).commit_index(), 0u);
  EXPECT_EQ(c.core(1).leader_id(), kNoNode);
}

// Figure 2 (all servers): "If RPC request or response contains term T > currentTerm: set
// currentTerm = T, convert to follower".
TEST(ElectionTest, AnyMessageWithHigherTermTurnsLeaderIntoFollowerOfThatTerm) {
  const MessageType types[] = {MessageType::kAppend, MessageType::kHeartbeat,
                               MessageType::kAppendResponse, MessageType::kHeartbeatResponse,
                               MessageType::kVoteResponse};
  for (MessageType type : types) {
    Cluster c(options(3, true));
    ASSERT_TRUE(c.elect(1));
    c.stabilize();
    const Term t = c.core(1).term();
    Message m = test::message(type, 2, 1, t + 2);
    if (type == MessageType::kAppend) {
      m.index = c.core(1).log().last_index();
      m.log_term = c.core(1).log().last_term();
    }
    if (type == MessageType::kAppendResponse || type == MessageType::kVoteResponse) {
      m.reject = true;
    }
    c.deliver(m);
    c.process(1);
    EXPECT_EQ(c.core(1).role(), Role::kFollower) << message_type_name(type);
    EXPECT_EQ(c.core(1).term(), t + 2) << message_type_name(type);
    EXPECT_EQ(c.node(1).disk().hard_state.term, t + 2) << message_type_name(type);
  }
}

// §5.2: "A candidate wins an election if it receives votes from a majority of the servers in
// the full cluster for the same term."
TEST(ElectionTest, CandidateWithVotesFromMajorityBecomesLeader) {
  Cluster c(options(5, false));
  ASSERT_TRUE(c.tick_until_role(1, Role::kCandidate));
  c.process(1);
  auto vote_to = [](NodeId to) {
    return [to](const Message& m) { return m.type == MessageType::kVote && m.to == to; };
  };
  auto responses = [](const Message& m) { return m.type == MessageType::kVoteResponse; };

  c.deliver_where(vote_to(2));
  c.process(2);
  c.deliver_where(responses);
  c.process(1);
  EXPECT_EQ(c.core(1).role(), Role::kCandidate) << "2 of 5 votes is not a majority";

  c.deliver_where(vote_to(3));
  c.process(3);
  c.deliver_where(responses);
  c.process(1);
  EXPECT_EQ(c.core(1).role(), Role::kLeader) << "3 of 5 votes is a majority";
  EXPECT_EQ(c.core(1).term(), 1u);
  EXPECT_EQ(c.core(1).leader_id(), 1u);
}

// §5.2: "If the leader's term (included in its RPC) is at least as large as the candidate's
// current term, then the candidate recognizes the leader as legitimate and returns to follower
// state."
TEST(ElectionTest, CandidateReceivingAppendFromLeaderOfItsTermBecomesFollower) {
  Cluster c(options(3, false));
  ASSERT_TRUE(c.tick_until_role(1, Role::kCandidate));
  c.process(1);
  Entry noop{1, 1, EntryType::kNoop, ""};
  c.deliver(test::append_request(2, 1, 1, 0, 0, {noop}, 0));
  auto replies = of_type(c.process(1), MessageType::kAppendResponse, 2);
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_EQ(c.core(1).term(), 1u);
  EXPECT_EQ(c.core(1).leader_id(), 2u);
  EXPECT_EQ(c.core(1).log().last_index(), 1u);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(replies[0].reject);
}

// §5.2: "If many followers become candidates at the same time, votes could be split so that
// no candidate obtains a majority. When this happens, each candidate will time out and start
// a new election by incrementing its term".
TEST(ElectionTest, SplitVoteLeadsToNewElectionInLaterTerm) {
  Cluster c(options(3, false));
  c.isolate(3);
  ASSERT_TRUE(c.tick_until_role(1, Role::kCandidate));
  c.process(1);
  ASSERT_TRUE(c.tick_until_role(2, Role::kCandidate));
  c.stabilize();
  EXPECT_EQ(c.core(1).role(), Role::kCandidate);
  EXPECT_EQ(c.core(2).role(), Role::kCandidate);
  EXPECT_EQ(c.core(1).term(), 1u);
  EXPECT_EQ(c.core(2).term(), 1u);

  for (int i = 0; i < 100 && c.leader() == kNoNode; ++i) c.tick_all(1);
  NodeId leader = c.leader();
  ASSERT_NE(leader, kNoNode);
  EXPECT_GE(c.core(leader).term(), 2u);
}

}  // namespace
}  // namespace nomad::raft
