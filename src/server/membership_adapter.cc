#include "server/membership_adapter.h"

namespace nomad::server {

api::MembershipState MembershipAdapter::membership() const {
  node::MembershipView v = node_.membership_view();
  api::MembershipState s;
  s.node_id = v.node_id;
  s.leader_id = v.leader_id;
  s.leader_address = v.leader_address;
  s.leader = v.leader;
  s.last_index = v.last_index;
  s.membership_index = v.membership.index;
  s.cluster = cluster_;
  for (const auto& m : v.membership.members) {
    api::MemberState state{m.id, m.address, m.voter, 0, false};
    for (const auto& p : v.progress) {
      if (p.id != m.id) continue;
      state.match_index = p.match;
      state.active = p.recent_active || p.is_leader;
    }
    s.members.push_back(std::move(state));
  }
  return s;
}

void MembershipAdapter::change_membership(const api::MemberChange& change,
                                          std::function<void(api::MemberChangeResult)> done) {
  raft::ConfChange cc;
  cc.kind = change.kind == api::MemberChange::Kind::kAdd ? raft::ConfChange::Kind::kAddLearner
                                                         : raft::ConfChange::Kind::kRemove;
  cc.id = change.id;
  cc.address = change.address;
  node_.change_membership(std::move(cc), [done = std::move(done)](node::ProposeOutcome o) {
    api::MemberChangeResult r;
    using C = node::ProposeOutcome::Code;
    using R = api::MemberChangeResult::Code;
    switch (o.code) {
      case C::kApplied:
        r.code = R::kCommitted;
        break;
      case C::kNotLeader:
        r.code = R::kNotLeader;
        break;
      case C::kRetry:
      case C::kOverloaded:
        r.code = R::kRetry;
        break;
      case C::kShutdown:
        r.code = R::kShutdown;
        break;
      case C::kDiskFull:
        r.code = R::kDiskFull;
        break;
      case C::kRefused:
        r.code = R::kRefused;
        break;
    }
    r.index = o.index;
    r.leader_id = o.leader_id;
    r.leader_address = std::move(o.leader_address);
    r.detail = std::move(o.detail);
    done(std::move(r));
  });
}

}  // namespace nomad::server
