#include "http/majority_contact.h"

namespace nomad::http {

bool hears_majority(const nomad_lite::GetClusterStatusResponse& status,
                    std::chrono::milliseconds window) {
  size_t heard = 0;
  for (const auto& node : status.nodes()) {
    bool self = node.id() == status.node_id();
    if (self || (node.last_contact_ms() >= 0 && node.last_contact_ms() <= window.count())) {
      ++heard;
    }
  }
  return heard > static_cast<size_t>(status.nodes_size()) / 2;
}

}  // namespace nomad::http
