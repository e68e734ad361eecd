#pragma once

// What the membership commands need of the cluster member they run on: its view of the
// members (with the leader's progress when it leads) and a way to propose a change. Kept
// apart from api::ClusterPort so that a port without membership (tests' fakes) needs nothing.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace nomad::api {

struct MemberState {
  uint64_t id = 0;
  std::string address;
  bool voter = true;
  uint64_t match_index = 0;  // the leader's view; 0 elsewhere
  bool active = false;       // the leader heard from it recently (leader's view)
};

struct MembershipState {
  uint64_t node_id = 0;  // the node answering
  uint64_t leader_id = 0;
  std::string leader_address;
  bool leader = false;               // the node answering leads: progress is known
  uint64_t last_index = 0;           // the answering node's last log index
  uint64_t membership_index = 0;     // the entry that set the membership (0: bootstrap)
  std::string cluster;               // the cluster's identity (stored with every member's data)
  std::vector<MemberState> members;  // sorted by id
};

// A change to propose: add a learner (promoted by the leader once caught up) or remove.
struct MemberChange {
  enum class Kind { kAdd, kRemove };
  Kind kind = Kind::kAdd;
  uint64_t id = 0;
  std::string address;  // kAdd only
};

struct MemberChangeResult {
  enum class Code {
    kCommitted,  // the change committed at `index`
    kNotLeader,  // leader_id / leader_address say who leads, if known
    kRefused,    // the core refused it: `detail` says why (another change in flight, ...)
    kRetry,      // leadership changed before it committed: it may or may not apply
    kShutdown,
    kDiskFull,
  };
  Code code = Code::kCommitted;
  uint64_t index = 0;
  uint64_t leader_id = 0;
  std::string leader_address;
  std::string detail;
};

class MembershipPort {
 public:
  virtual ~MembershipPort() = default;
  virtual MembershipState membership() const = 0;
  // Thread-safe; `done` runs once, on whatever thread the cluster answers on.
  virtual void change_membership(const MemberChange& change,
                                 std::function<void(MemberChangeResult)> done) = 0;
};

}  // namespace nomad::api
