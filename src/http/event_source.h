#pragma once

// The event hub's view of this node, read through api::Service like every other answer.

#include "api/service.h"
#include "http/event_hub.h"

namespace nomad::http {

class ServiceEventSource : public EventSource {
 public:
  explicit ServiceEventSource(api::Service& service) : service_(service) {}

  nlohmann::json cluster() override;
  std::vector<std::pair<std::string, std::optional<nlohmann::json>>> jobs(
      const std::vector<std::string>& ids) override;
  // {"at", "commit_index", "applied_index", "jobs_submitted", "jobs_finished",
  //  "by_status": {"pending", "running", "completed", "failed", "cancelled"}}
  nlohmann::json stats() override;

 private:
  api::Service& service_;
};

}  // namespace nomad::http
