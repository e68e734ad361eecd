#pragma once

// Whether this node can hear a majority of the cluster. A write that lands on a node cut off
// from the majority (an isolated old leader, the minority side of a split) cannot succeed
// there, however long it waits: it is answered 503 at once, so the client tries another node
// instead of waiting out the leaderless grace (measured by the fault suite: the 2 s wait on
// an isolated old leader was the longest gap without an acknowledged write).

#include <chrono>

#include "proto/nomad_lite.pb.h"

namespace nomad::http {

// Peers count as heard when their last contact is at most this old: the leader sends a
// heartbeat every 50 ms and followers a keepalive every 200 ms, so a connected peer is never
// near it, and an isolated node sees its peers fall silent within it.
inline constexpr std::chrono::milliseconds kMajorityContactWindow{600};

// True when this node together with the peers heard within `window` is a majority of the
// nodes listed in `status` (which include this node).
bool hears_majority(const nomad_lite::GetClusterStatusResponse& status,
                    std::chrono::milliseconds window = kMajorityContactWindow);

}  // namespace nomad::http
