// api::Members: what the membership commands check before anything is proposed, and how the
// outcome of a change comes back, with a fake MembershipPort.

#include "api/members.h"

#include <gtest/gtest.h>

#include <optional>

namespace nomad::api {
namespace {

class FakeMembershipPort : public MembershipPort {
 public:
  MembershipState state;
  std::optional<MemberChange> proposed;
  MemberChangeResult result;

  MembershipState membership() const override { return state; }
  void change_membership(const MemberChange& change,
                         std::function<void(MemberChangeResult)> done) override {
    proposed = change;
    if (result.code == MemberChangeResult::Code::kCommitted) {
      if (change.kind == MemberChange::Kind::kAdd) {
        state.members.push_back({change.id, change.address, false, 0, false});
      } else {
        std::erase_if(state.members, [&](const MemberState& m) { return m.id == change.id; });
      }
    }
    done(result);
  }
};

FakeMembershipPort three_voters_led_by_1() {
  FakeMembershipPort port;
  port.state.node_id = 1;
  port.state.leader_id = 1;
  port.state.leader_address = "127.0.0.1:50051";
  port.state.leader = true;
  port.state.last_index = 100;
  port.state.cluster = "1,2,3";
  port.state.members = {{1, "127.0.0.1:50051", true, 100, true},
                        {2, "127.0.0.1:50052", true, 90, true},
                        {3, "127.0.0.1:50053", true, 40, false}};
  port.result.index = 101;
  return port;
}

template <class T>
Outcome<T> run(const std::function<void(std::function<void(Outcome<T>)>)>& call) {
  std::optional<Outcome<T>> out;
  call([&](Outcome<T> o) { out = std::move(o); });
  EXPECT_TRUE(out.has_value()) << "no answer";
  return out.value_or(Outcome<T>{});
}

Outcome<nomad_lite::MembershipChangeResponse> add(Members members, uint64_t id,
                                                  const std::string& address) {
  nomad_lite::AddServerRequest r;
  r.set_id(id);
  r.set_address(address);
  return run<nomad_lite::MembershipChangeResponse>(
      [&](auto done) { members.add_server(r, std::move(done)); });
}

Outcome<nomad_lite::MembershipChangeResponse> remove(Members members, uint64_t id) {
  nomad_lite::RemoveServerRequest r;
  r.set_id(id);
  return run<nomad_lite::MembershipChangeResponse>(
      [&](auto done) { members.remove_server(r, std::move(done)); });
}

TEST(MemberAddress, AcceptsHostPortAndBracketedIpv6) {
  EXPECT_EQ(check_member_address("10.0.0.4:50051").code, Code::kOk);
  EXPECT_EQ(check_member_address("node4.example:1").code, Code::kOk);
  EXPECT_EQ(check_member_address("[fd00::4]:65535").code, Code::kOk);
}

TEST(MemberAddress, RefusesWhatNoNodeCouldListenOn) {
  for (const char* bad : {"", "10.0.0.4", ":50051", "10.0.0.4:", "10.0.0.4:0", "10.0.0.4:65536",
                          "10.0.0.4:5x", "fd00::4:50051", "[fd00::4:50051", "a b:1", "a\tb:1"}) {
    Error e = check_member_address(bad);
    EXPECT_EQ(e.code, Code::kInvalidArgument) << bad;
    EXPECT_FALSE(e.message.empty()) << bad;
  }
  EXPECT_EQ(check_member_address(std::string("a\0b:1", 5)).code, Code::kInvalidArgument);
  EXPECT_EQ(check_member_address(std::string(300, 'a') + ":1").code, Code::kInvalidArgument);
}

TEST(Members, ListShowsProgressOnlyFromTheLeader) {
  auto port = three_voters_led_by_1();
  auto listed = Members(&port).list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed.value.members_size(), 3);
  EXPECT_TRUE(listed.value.members(0).leader());
  EXPECT_EQ(listed.value.members(2).lag(), 60u);
  EXPECT_FALSE(listed.value.members(2).active());
  nlohmann::json j = members_to_json(listed.value);
  EXPECT_EQ(j["members"][2]["lag"], 60);
  EXPECT_EQ(j["members"][0]["role"], "voter");

  port.state.leader = false;
  port.state.node_id = 2;
  j = members_to_json(Members(&port).list().value);
  EXPECT_TRUE(j["members"][2]["match_index"].is_null());
}

TEST(Members, AddProposesALearnerAndAnswersWithTheCommitIndex) {
  auto port = three_voters_led_by_1();
  auto out = add(Members(&port), 4, "127.0.0.1:50054");
  ASSERT_TRUE(out.ok()) << out.error.message;
  ASSERT_TRUE(port.proposed.has_value());
  EXPECT_EQ(port.proposed->kind, MemberChange::Kind::kAdd);
  EXPECT_EQ(port.proposed->id, 4u);
  EXPECT_EQ(out.value.index(), 101u);
  ASSERT_EQ(out.value.members().members_size(), 4);
  EXPECT_FALSE(out.value.members().members(3).voter());
}

TEST(Members, AddRefusesATakenIdOrAddressWithoutProposing) {
  auto port = three_voters_led_by_1();
  auto out = add(Members(&port), 2, "127.0.0.1:50099");
  EXPECT_EQ(out.error.code, Code::kAlreadyExists);
  EXPECT_NE(out.error.message.find("node 2 is already a member"), std::string::npos);
  out = add(Members(&port), 9, "127.0.0.1:50052");
  EXPECT_EQ(out.error.code, Code::kAlreadyExists);
  EXPECT_NE(out.error.message.find("belongs to node 2"), std::string::npos);
  out = add(Members(&port), 0, "127.0.0.1:50059");
  EXPECT_EQ(out.error.code, Code::kInvalidArgument);
  out = add(Members(&port), 9, "nowhere");
  EXPECT_EQ(out.error.code, Code::kInvalidArgument);
  EXPECT_FALSE(port.proposed.has_value());
}

TEST(Members, AFollowerNamesTheLeader) {
  auto port = three_voters_led_by_1();
  port.state.leader = false;
  port.state.node_id = 2;
  auto out = add(Members(&port), 4, "127.0.0.1:50054");
  EXPECT_EQ(out.error.code, Code::kNotLeader);
  EXPECT_EQ(out.error.leader_address, "127.0.0.1:50051");
  port.state.leader_id = 0;
  EXPECT_EQ(remove(Members(&port), 3).error.code, Code::kUnavailable);
  EXPECT_FALSE(port.proposed.has_value());
}

TEST(Members, RemoveRefusesAnUnknownIdAndTheLastVoter) {
  auto port = three_voters_led_by_1();
  EXPECT_EQ(remove(Members(&port), 7).error.code, Code::kNotFound);
  EXPECT_EQ(remove(Members(&port), 0).error.code, Code::kInvalidArgument);
  port.state.members.resize(1);
  auto out = remove(Members(&port), 1);
  EXPECT_EQ(out.error.code, Code::kFailedPrecondition);
  EXPECT_NE(out.error.message.find("last voter"), std::string::npos);
  EXPECT_FALSE(port.proposed.has_value());
}

TEST(Members, TheCoresRefusalReachesTheCaller) {
  auto port = three_voters_led_by_1();
  port.result.code = MemberChangeResult::Code::kRefused;
  port.result.detail = "a configuration change at index 99 is not committed yet";
  auto out = remove(Members(&port), 3);
  EXPECT_EQ(out.error.code, Code::kFailedPrecondition);
  EXPECT_EQ(out.error.message, port.result.detail);
}

TEST(Members, WithoutAPortEveryCallIsUnavailable) {
  Members none(nullptr);
  EXPECT_EQ(none.list().error.code, Code::kUnavailable);
  EXPECT_EQ(add(none, 4, "127.0.0.1:50054").error.code, Code::kUnavailable);
}

Outcome<nomad_lite::JoinResponse> join(Members members, uint64_t id, const std::string& address,
                                       uint64_t proven, bool tls) {
  nomad_lite::JoinRequest r;
  r.set_id(id);
  r.set_address(address);
  return run<nomad_lite::JoinResponse>(
      [&](auto done) { members.join(r, proven, tls, std::nullopt, std::move(done)); });
}

TEST(Members, JoinAddsTheNodeAndGivesItTheClusterAndMembers) {
  auto port = three_voters_led_by_1();
  auto out = join(Members(&port), 4, "127.0.0.1:50054", 0, false);
  ASSERT_TRUE(out.ok()) << out.error.message;
  EXPECT_EQ(out.value.cluster(), "1,2,3");
  EXPECT_EQ(out.value.leader_id(), 1u);
  EXPECT_EQ(out.value.members_size(), 4);
  EXPECT_FALSE(out.value.already_member());
}

TEST(Members, JoinOfATakenIdIsRefusedAndTheSameAddressIsWelcomeAgain) {
  auto port = three_voters_led_by_1();
  auto out = join(Members(&port), 3, "127.0.0.1:50099", 0, false);
  EXPECT_EQ(out.error.code, Code::kAlreadyExists);
  EXPECT_NE(out.error.message.find("node id 3 is taken"), std::string::npos);
  out = join(Members(&port), 3, "127.0.0.1:50053", 0, false);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out.value.already_member());
  EXPECT_FALSE(port.proposed.has_value());
}

TEST(Members, WithTlsTheCertificateMustNameTheJoiningNode) {
  auto port = three_voters_led_by_1();
  auto out = join(Members(&port), 5, "127.0.0.1:50055", 4, true);
  EXPECT_EQ(out.error.code, Code::kPermissionDenied);
  EXPECT_NE(out.error.message.find("--add-node 5"), std::string::npos);
  EXPECT_FALSE(port.proposed.has_value());
  // Even from a member's certificate, unless the member forwards what it saw.
  EXPECT_EQ(join(Members(&port), 5, "127.0.0.1:50055", 2, true).error.code,
            Code::kPermissionDenied);
  EXPECT_TRUE(join(Members(&port), 5, "127.0.0.1:50055", 5, true).ok());
}

TEST(Members, AForwardedJoinCarriesTheCertificateTheMemberSaw) {
  auto port = three_voters_led_by_1();
  nomad_lite::JoinRequest r;
  r.set_id(6);
  r.set_address("127.0.0.1:50056");
  auto answer = [&](uint64_t proven, uint64_t certified) {
    return run<nomad_lite::JoinResponse>(
        [&](auto done) { Members(&port).join(r, proven, true, certified, std::move(done)); });
  };
  EXPECT_EQ(answer(9, 6).error.code, Code::kPermissionDenied);  // not forwarded by a member
  EXPECT_EQ(answer(2, 4).error.code, Code::kPermissionDenied);  // the certificate named node 4
  EXPECT_TRUE(answer(2, 6).ok());
}

}  // namespace
}  // namespace nomad::api
