#pragma once

// Submissions and cancels from the REST API, wherever they land: through api::Service on this
// node, and when this node is a follower, on to the leader (LeaderForwarder). A change of
// leader while a write is in flight is retried within a deadline; submissions always carry an
// idempotency key (one is made up when the client gave none), so no retry creates two jobs.

#include <atomic>

#include "api/service.h"
#include "http/leader_forwarder.h"

namespace nomad::http {

class JobWriter {
 public:
  JobWriter(api::Service& service, LeaderForwarder& forwarder, const std::atomic<bool>& stopping)
      : service_(service), forwarder_(forwarder), stopping_(stopping) {}

  // The created job (or the one an earlier submission with the same key created). Once it is
  // answered, this node's own state has the job too (a follower waits up to a second to
  // apply it), so a read right after the write finds it.
  // `authorization` (the request's header) goes along when the write is forwarded. With
  // wait_ms, the answer is the job once final here, or as it is when wait_ms runs out
  // (api::Service::wait_submitted).
  api::Outcome<nomad_lite::Job> submit(nomad_lite::SubmitJobRequest request,
                                       const std::string& authorization);
  // The cancelled job; kFailedPrecondition (409) when it had already finished.
  api::Outcome<nomad_lite::Job> cancel(const nomad_lite::CancelJobRequest& request,
                                       const std::string& authorization);

 private:
  using Done = std::function<void(api::Outcome<nomad_lite::Job>)>;
  // Runs `local` (this node's service) and, when it names a leader, `forward`; retries while
  // the leader is changing. *retried tells whether more than one round was made.
  api::Outcome<nomad_lite::Job> write(
      const std::function<void(Done)>& local,
      const std::function<api::Outcome<nomad_lite::Job>(const std::string&)>& forward,
      bool* retried);
  // Waits (a second at most) until this node's applied state has job `id` satisfying `ready`.
  void await_local(const std::string& id, bool (*ready)(const nomad_lite::Job&));
  // The submitted `job` once final on this node, or as it is after wait_ms.
  nomad_lite::Job wait(nomad_lite::Job job, uint64_t wait_ms);

  api::Service& service_;
  LeaderForwarder& forwarder_;
  const std::atomic<bool>& stopping_;
};

}  // namespace nomad::http
