#pragma once

// How the leader picks among the nodes a job fits (server --placement).

#include <optional>
#include <string_view>

namespace nomad::jobs {

enum class PlacementPolicy {
  kSpread,   // the node with the most free: load and failures spread over the cluster
  kBinpack,  // the fullest node that fits: whole nodes stay free for large jobs
};

inline std::optional<PlacementPolicy> placement_policy_from_name(std::string_view name) {
  if (name == "spread") return PlacementPolicy::kSpread;
  if (name == "binpack") return PlacementPolicy::kBinpack;
  return std::nullopt;
}

inline const char* placement_policy_name(PlacementPolicy policy) {
  return policy == PlacementPolicy::kBinpack ? "binpack" : "spread";
}

}  // namespace nomad::jobs
