// Leader election (§5.2), the up-to-date vote restriction (§5.4.1), pre-vote (§9.6 of the
// thesis) and the leader lease that protects a working leader from disruptive candidates.

#include "raft/core.h"

namespace nomad::raft {

void Core::tick_election() {
  // Saturates: a learner or removed node counts on for its lease view but never campaigns.
  if (election_elapsed_ < (1 << 30)) ++election_elapsed_;
  // Learners, removed servers and joining nodes do not campaign: their votes do not count.
  if (!is_voter(config_.id)) return;
  if (election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    campaign(config_.pre_vote, /*transfer=*/false);
  }
}

bool Core::in_leader_lease() const {
  // Followers and the leader itself: both know a leader was alive within the lease.
  return config_.check_quorum && leader_ != kNoNode && election_elapsed_ < config_.election_ticks;
}

void Core::campaign(bool pre_vote, bool transfer) {
  Term campaign_term;
  MessageType type;
  if (pre_vote) {
    become_pre_candidate();
    campaign_term = term_ + 1;
    type = MessageType::kPreVote;
  } else {
    become_candidate();
    campaign_term = term_;
    type = MessageType::kVote;
  }
  votes_[config_.id] = true;  // a candidate always votes for itself
  if (votes_.size() >= quorum()) {
    // A single-node cluster needs nobody else.
    if (pre_vote) {
      campaign(false, transfer);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId peer : membership_.voters()) {
    if (peer == config_.id) continue;
    send({.type = type,
          .to = peer,
          .term = campaign_term,
          .index = log_.last_index(),
          .log_term = log_.last_term(),
          .transfer = transfer});
  }
}

void Core::handle_vote_request(const Message& m) {
  bool pre_vote = m.type == MessageType::kPreVote;
  // For a real vote, m.term == term_ here (step() moved us to a higher term already).
  // A node may vote again for the same candidate (a retransmitted request), never for another
  // in the same term: two votes in one term could elect two leaders (§5.2).
  bool can_vote = vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) ||
                  (pre_vote && m.term > term_) || config_.bugs.grant_second_vote;
  // Only a candidate holding every committed entry may win (§5.4.1).
  bool up_to_date = log_.is_up_to_date(m.index, m.log_term);
  bool grant = can_vote && up_to_date;
  MessageType response = pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  if (grant) {
    if (!pre_vote) {
      vote_ = m.from;  // durable through the next Ready before the response is sent
      election_elapsed_ = 0;
    }
    // A granted pre-vote answers in the candidate's prospective term.
    send({.type = response, .to = m.from, .term = pre_vote ? m.term : term_});
  } else {
    send({.type = response, .to = m.from, .term = term_, .reject = true});
  }
}

void Core::handle_vote_response(const Message& m) {
  bool pre_vote = m.type == MessageType::kPreVoteResponse;
  if (pre_vote ? role_ != Role::kPreCandidate : role_ != Role::kCandidate) return;
  // Only voters of this node's configuration count toward its majority.
  if (!is_voter(m.from)) return;
  votes_.emplace(m.from, !m.reject);  // the first answer from each voter counts
  size_t granted = 0, rejected = 0;
  for (auto& [id, yes] : votes_) (yes ? granted : rejected)++;
  if (granted >= quorum()) {
    if (pre_vote) {
      campaign(false, false);
    } else {
      become_leader();
    }
  } else if (rejected >= quorum()) {
    // Lost this round: wait for a leader or for our next timeout.
    become_follower(term_, kNoNode);
  }
}

void Core::handle_timeout_now(const Message& m) {
  // The leader asked us to take over: campaign at once, skipping pre-vote, and tell voters to
  // ignore their lease (the leader itself wants this election).
  if (role_ == Role::kLeader || !is_voter(config_.id)) return;
  (void)m;
  campaign(/*pre_vote=*/false, /*transfer=*/true);
}

}  // namespace nomad::raft
