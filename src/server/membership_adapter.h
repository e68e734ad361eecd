#pragma once

// api::MembershipPort over node::Node: the membership as the node knows it and changes
// proposed through its loop.

#include <string>

#include "api/membership_port.h"
#include "node/node.h"

namespace nomad::server {

class MembershipAdapter final : public api::MembershipPort {
 public:
  MembershipAdapter(node::Node& node, std::string cluster)
      : node_(node), cluster_(std::move(cluster)) {}

  api::MembershipState membership() const override;
  void change_membership(const api::MemberChange& change,
                         std::function<void(api::MemberChangeResult)> done) override;

 private:
  node::Node& node_;
  std::string cluster_;
};

}  // namespace nomad::server
