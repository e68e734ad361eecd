#include "server/health_status.h"

#include "proto/nomad_lite.grpc.pb.h"

namespace nomad::server {

const std::vector<std::string>& HealthStatus::client_services() {
  static const std::vector<std::string> names{"",
                                              nomad_lite::SchedulerService::service_full_name()};
  return names;
}

const std::vector<std::string>& HealthStatus::peer_services() {
  static const std::vector<std::string> names{nomad_lite::RaftService::service_full_name(),
                                              nomad_lite::InternalService::service_full_name()};
  return names;
}

HealthStatus::HealthStatus(SetStatus set) : set_(std::move(set)) {
  std::lock_guard lock(mu_);
  set_all(false, true);
}

void HealthStatus::leader_known(bool known) {
  std::lock_guard lock(mu_);
  if (shut_down_ || client_serving_ == known) return;
  client_serving_ = known;
  for (const auto& name : client_services()) set_(name, known);
}

void HealthStatus::shutdown() {
  std::lock_guard lock(mu_);
  if (shut_down_) return;
  set_all(false, false);
  shut_down_ = true;
}

void HealthStatus::set_all(bool client_serving, bool peer_serving) {
  client_serving_ = client_serving;
  for (const auto& name : client_services()) set_(name, client_serving);
  for (const auto& name : peer_services()) set_(name, peer_serving);
}

}  // namespace nomad::server
