#pragma once

// A REST write that this node's service starts and that goes on to the leader when this node
// is not it: the drain, eligibility and periodic-job routes answer through it.

#include <future>
#include <memory>
#include <string>

#include "api/service.h"
#include "http/limits.h"
#include "http/message.h"

namespace nomad::http {

// `start(done)` begins the write on this node and hands its outcome to `done`; when the
// outcome is kNotLeader, `forward(leader address, the request's Authorization header)` sends it
// to the leader instead. No outcome within kWriteDeadline: kUnavailable (the callback may still
// come later; it then finds the promise alone).
template <class Value, class Start, class Forward>
api::Outcome<Value> write_at_leader(const Request& req, const Start& start,
                                    const Forward& forward) {
  auto answer = std::make_shared<std::promise<api::Outcome<Value>>>();
  auto future = answer->get_future();
  start([answer](api::Outcome<Value> out) { answer->set_value(std::move(out)); });
  if (future.wait_for(kWriteDeadline) != std::future_status::ready) {
    return {{api::Code::kUnavailable,
             "the cluster did not answer in time; check GET /api/cluster",
             0,
             {}},
            {}};
  }
  auto out = future.get();
  if (out.error.code == api::Code::kNotLeader) {
    out = forward(out.error.leader_address, req.get_header_value("Authorization"));
  }
  return out;
}

}  // namespace nomad::http
