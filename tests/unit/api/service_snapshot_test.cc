// api::Service::save_snapshot: only a leader that has just confirmed its leadership through
// ReadIndex hands out a snapshot, and the snapshot covers the index that ReadIndex confirmed.
// A deposed leader cut off in a minority (it still believes it leads) gets UNAVAILABLE.

#include <gtest/gtest.h>

#include "api/service.h"
#include "fake_cluster_port.h"

namespace nomad::api {
namespace {

using testing::FakeClusterPort;

// A leader whose ReadIndex round succeeds (at `confirmed_index`) or fails; it records the
// barriers asked of it and the index each snapshot was asked to cover.
class SnapshotPort : public FakeClusterPort {
 public:
  void read_barrier(uint64_t min_index, bool linearizable, std::chrono::steady_clock::time_point,
                    std::function<void(Status, uint64_t)> done) override {
    barriers.push_back({min_index, linearizable});
    if (cut_off) {
      return done(Status::error("the leader did not confirm a read index in time (it may have "
                                "lost its majority); retry shortly"),
                  40);
    }
    done(Status::ok(), confirmed_index);
  }
  Status save_backup(uint64_t min_index, std::string* file_bytes) override {
    saved_from.push_back(min_index);
    *file_bytes = "snapshot covering " + std::to_string(min_index);
    return Status::ok();
  }
  bool cut_off = false;
  uint64_t confirmed_index = 57;
  std::vector<std::pair<uint64_t, bool>> barriers;
  std::vector<uint64_t> saved_from;
};

TEST(ServiceSnapshot, ALeaderThatCannotConfirmItLeadsHandsOutNoSnapshot) {
  SnapshotPort port;
  port.cut_off = true;  // believes it leads; its heartbeat round finds no majority
  Service service(port);
  auto out = service.save_snapshot();
  EXPECT_EQ(out.error.code, Code::kUnavailable);
  EXPECT_NE(out.error.message.find("cannot confirm that it still leads"), std::string::npos)
      << out.error.message;
  EXPECT_NE(out.error.message.find("lost its majority"), std::string::npos) << out.error.message;
  EXPECT_TRUE(out.value.empty());
  EXPECT_TRUE(port.saved_from.empty()) << "a snapshot was taken without confirming leadership";
  ASSERT_EQ(port.barriers.size(), 1u);
  EXPECT_TRUE(port.barriers[0].second) << "the barrier must be a ReadIndex (linearizable)";
}

TEST(ServiceSnapshot, AConfirmedLeaderSnapshotsAtLeastTheConfirmedIndex) {
  SnapshotPort port;
  Service service(port);
  auto out = service.save_snapshot();
  ASSERT_TRUE(out.ok()) << out.error.message;
  ASSERT_EQ(port.barriers.size(), 1u);
  EXPECT_TRUE(port.barriers[0].second);
  ASSERT_EQ(port.saved_from.size(), 1u);
  EXPECT_EQ(port.saved_from[0], 57u);
  EXPECT_EQ(out.value, "snapshot covering 57");
}

TEST(ServiceSnapshot, AFollowerSendsTheClientToTheLeaderWithoutARound) {
  SnapshotPort port;
  port.leader = false;
  port.state.leader_id = 3;
  port.state.leader_address = "127.0.0.1:50053";
  Service service(port);
  auto out = service.save_snapshot();
  EXPECT_EQ(out.error.code, Code::kNotLeader);
  EXPECT_EQ(out.error.leader_id, 3u);
  EXPECT_TRUE(port.barriers.empty());
  EXPECT_TRUE(port.saved_from.empty());
}

}  // namespace
}  // namespace nomad::api
