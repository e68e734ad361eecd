#include "api/service.h"

#include <algorithm>
#include <chrono>

#include "common/quote.h"
#include "common/random_id.h"
#include "common/unix_time.h"
#include "jobs/job_store.h"
#include "jobs/resources.h"

namespace nomad::api {
namespace {

Error make_error(Code code, std::string message) { return {code, std::move(message), 0, {}}; }

bool valid_env_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

Error no_job(const std::string& id) {
  return make_error(Code::kNotFound, "no job " + common::quote_input(id));
}

// A job id as a request gives it: empty or with a NUL byte is a malformed request; any other
// id that is not known is NOT_FOUND, with only a prefix of it quoted.
Error check_job_id(const std::string& id) {
  if (id.empty()) return make_error(Code::kInvalidArgument, "job_id is empty");
  if (id.find('\0') != std::string::npos) {
    return make_error(Code::kInvalidArgument, "job_id contains a NUL byte");
  }
  return {};
}

// A page token is a decimal submission index (1 and up) as this server gave it out: no sign,
// no spaces, no leading zero, nothing that overflows 64 bits.
bool parse_page_token(const std::string& token, uint64_t* out) {
  if (token.empty() || token.size() > 20 || token[0] == '0') return false;
  uint64_t v = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *out = v;
  return v != 0;
}

// The first field of a job that differs from what `request` asks for ("" when none does):
// the job an idempotency key already names must be the job this request describes.
std::string differing_field(const nomad_lite::Job& job,
                            const nomad_lite::SubmitJobRequest& request) {
  if (job.command() != request.command()) return "command";
  if (job.timeout_ms() != request.timeout_ms()) return "timeout";
  if (job.retries() != request.retries()) return "retries";
  uint32_t lost = request.has_lost_retries() ? request.lost_retries() : kDefaultLostRetries;
  if (job.lost_retries() != lost) return "lost_retries";
  if (job.on_disconnect() != request.on_disconnect()) return "on_disconnect";
  if (job.priority() != request.priority()) return "priority";
  if (job.resources().cpu() != request.resources().cpu()) return "cpu";
  if (job.resources().memory_bytes() != request.resources().memory_bytes()) return "memory";
  if (!std::equal(job.constraints().begin(), job.constraints().end(), request.constraints().begin(),
                  request.constraints().end())) {
    return "constraints";
  }
  if (job.env().size() != request.env().size()) return "env";
  if (job.after_size() != request.after_size() ||
      !std::equal(job.after().begin(), job.after().end(), request.after().begin())) {
    return "after";
  }
  for (const auto& [name, value] : request.env()) {
    auto it = job.env().find(name);
    if (it == job.env().end() || it->second != value) return "env";
  }
  return "";
}

}  // namespace

Error auth_error(AuthDecision d) {
  switch (d.refusal) {
    case Refusal::kNone:
      return {};
    case Refusal::kUnauthenticated:
      return make_error(Code::kUnauthenticated, std::move(d.message));
    case Refusal::kPermissionDenied:
      return make_error(Code::kPermissionDenied, std::move(d.message));
  }
  return make_error(Code::kInternal, "unknown refusal");
}

Service::Service(ClusterPort& port, Authenticator auth) : port_(port), auth_(std::move(auth)) {
  port_.add_jobs_listener([this](const std::vector<std::string>& ids) { changes_.changed(ids); });
}

void Service::propose(const nomad_lite::Command& command,
                      std::function<void(Outcome<nomad_lite::Job>)> done,
                      std::optional<SubmittedJob> submitted) {
  port_.propose(command, std::move(submitted), [done = std::move(done)](ProposeResult o) {
    Outcome<nomad_lite::Job> out;
    out.index = o.index;
    using C = ProposeResult::Code;
    switch (o.code) {
      case C::kApplied:
        if (o.result.status.is_ok()) {
          out.value = std::move(o.result.job);
        } else {
          out.error = make_error(Code::kFailedPrecondition, o.result.status.message());
          out.value = std::move(o.result.job);
        }
        break;
      case C::kNotLeader:
        if (o.leader_id == 0) {
          out.error = make_error(Code::kUnavailable, "no leader is elected yet; retry shortly");
        } else {
          out.error = {Code::kNotLeader,
                       "this node is not the leader; the leader is node " +
                           std::to_string(o.leader_id) + " at " + o.leader_address,
                       o.leader_id, o.leader_address};
        }
        break;
      case C::kRetry:
        out.error = make_error(Code::kUnavailable,
                               "leadership changed before the request committed; it may or may "
                               "not have been applied: retry (with the same idempotency key)");
        break;
      case C::kOverloaded:
        out.error = make_error(Code::kResourceExhausted,
                               "too many requests are waiting to commit; back off and retry");
        break;
      case C::kShutdown:
        out.error = make_error(Code::kUnavailable, "the node is shutting down; retry elsewhere");
        break;
      case C::kDiskFull:
        out.error = make_error(Code::kUnavailable, std::move(o.detail));
        out.error.retry_elsewhere = true;
        break;
    }
    done(std::move(out));
  });
}

std::string submit_request_error(const nomad_lite::SubmitJobRequest& request) {
  auto reject = [](std::string message) { return message; };
  if (request.command().find_first_not_of(" \t\r\n") == std::string::npos) {
    return reject("command is empty: give the shell command to run");
  }
  if (request.command().size() > kMaxCommandBytes) {
    return reject("command is " + std::to_string(request.command().size()) +
                  " bytes; the limit is " + std::to_string(kMaxCommandBytes));
  }
  if (request.command().find('\0') != std::string::npos) {
    return reject("command contains a NUL byte");
  }
  if (request.retries() > kMaxRetries) {
    return reject("retries is " + std::to_string(request.retries()) + "; the limit is " +
                  std::to_string(kMaxRetries));
  }
  if (request.has_lost_retries() && request.lost_retries() > kMaxRetries) {
    return reject("lost_retries is " + std::to_string(request.lost_retries()) + "; the limit is " +
                  std::to_string(kMaxRetries));
  }
  if (!nomad_lite::OnDisconnect_IsValid(request.on_disconnect())) {
    return reject("on_disconnect " + std::to_string(request.on_disconnect()) +
                  " is not stop (0) or keep-running (1)");
  }
  if (request.idempotency_key().size() > 256) {
    return reject("idempotency_key is " + std::to_string(request.idempotency_key().size()) +
                  " bytes; the limit is 256");
  }
  if (request.idempotency_key().find('\0') != std::string::npos) {
    return reject("idempotency_key contains a NUL byte");
  }
  size_t env_bytes = 0;
  for (const auto& [name, value] : request.env()) env_bytes += name.size() + value.size();
  if (env_bytes > kMaxEnvBytes) {
    return reject("env is " + std::to_string(env_bytes) +
                  " bytes (names and values); the limit is " + std::to_string(kMaxEnvBytes));
  }
  for (const auto& [name, value] : request.env()) {
    if (!valid_env_name(name)) {
      return reject("env: variable name '" + common::quote_input(name) +
                    "' is not valid (letters, digits and _, not starting with a digit)");
    }
    if (value.find('\0') != std::string::npos) {
      return reject("env: the value of " + name + " contains a NUL byte");
    }
  }
  if (Status s = jobs::check_job_needs(request.resources(), request.constraints()); !s) {
    return reject(s.message());
  }
  if (request.after_size() > static_cast<int>(kMaxAfter)) {
    return reject("after names " + std::to_string(request.after_size()) + " jobs; the limit is " +
                  std::to_string(kMaxAfter));
  }
  for (const auto& id : request.after()) {
    if (id.empty() || id.size() > 256 || id.find('\0') != std::string::npos) {
      return reject("after: '" + common::quote_input(id) + "' is not a job id");
    }
  }
  return "";
}

nomad_lite::Job job_from_request(const nomad_lite::SubmitJobRequest& request) {
  nomad_lite::Job built;
  nomad_lite::Job* job = &built;
  job->set_id(common::random_uuid());  // named before it commits
  job->set_command(request.command());
  job->set_status(nomad_lite::JOB_STATUS_PENDING);
  job->set_created_at_ms(common::unix_now_ms());
  job->set_timeout_ms(request.timeout_ms());
  job->set_retries(request.retries());
  job->set_lost_retries(request.has_lost_retries() ? request.lost_retries() : kDefaultLostRetries);
  job->set_on_disconnect(request.on_disconnect());
  job->set_priority(request.priority());
  *job->mutable_env() = request.env();
  if (request.resources().cpu() > 0 || request.resources().memory_bytes() > 0) {
    *job->mutable_resources() = request.resources();
  }
  *job->mutable_constraints() = request.constraints();
  *job->mutable_after() = request.after();
  return built;
}

void Service::submit_job(const nomad_lite::SubmitJobRequest& request,
                         std::function<void(Outcome<nomad_lite::SubmitJobResponse>)> answer) {
  if (std::string error = submit_request_error(request); !error.empty()) {
    return answer({make_error(Code::kInvalidArgument, std::move(error)), {}});
  }
  // A job waits only for jobs that exist (so no cycle can form); the job store checks again.
  // Only the leader refuses here: a follower may not have applied a job the leader just
  // acknowledged, and its proposal sends the client to the leader anyway.
  for (const auto& id : request.after()) {
    if (port_.is_leader() &&
        !read_jobs([&](const jobs::JobStore& store) { return store.find(id) != nullptr; })) {
      return answer({make_error(Code::kInvalidArgument,
                                "after: no job " + common::quote_input(id) +
                                    " (a job can wait only for jobs submitted before it)"),
                     {}});
    }
  }
  // Submitted first, then waited for as WaitJob would, in the same call.
  std::function<void(Outcome<nomad_lite::Job>)> done = [this, wait_ms = request.wait_ms(),
                                                        answer = std::move(answer)](
                                                           Outcome<nomad_lite::Job> out) {
    if (!out.ok()) return answer({std::move(out.error), {}});
    // The answer carries the index the submission committed at (read-your-writes).
    wait_submitted(
        std::move(out.value), wait_ms,
        [answer = std::move(answer), index = out.index](Outcome<nomad_lite::SubmitJobResponse> o) {
          o.value.set_index(index);
          o.index = index;
          answer(std::move(o));
        });
  };
  nomad_lite::Command command;
  auto* submit = command.mutable_submit();
  nomad_lite::Job* job = submit->mutable_job();
  *job = job_from_request(request);
  submit->set_idempotency_key(request.idempotency_key());
  std::string new_id = job->id();
  if (!request.idempotency_key().empty()) {
    // The key may already name a job (the state machine then answers with that job): the same
    // request again gets it, a different one is refused, naming it.
    done = [done = std::move(done), request, new_id](Outcome<nomad_lite::Job> out) {
      if (out.ok() && out.value.id() != new_id) {
        if (std::string field = differing_field(out.value, request); !field.empty()) {
          out.error = make_error(
              Code::kAlreadyExists,
              "idempotency_key '" + common::quote_input(request.idempotency_key()) +
                  "' was already used for job " + out.value.id() + " with a different " + field +
                  "; resend that job's request unchanged to get it, or use a new key");
          out.value = {};
        }
      }
      done(std::move(out));
    };
  }
  propose(command, std::move(done), SubmittedJob{new_id, request.idempotency_key()});
}

void Service::wait_submitted(nomad_lite::Job job, uint64_t wait_ms,
                             std::function<void(Outcome<nomad_lite::SubmitJobResponse>)> done) {
  Outcome<nomad_lite::SubmitJobResponse> out;
  if (wait_ms == 0 || jobs::is_final(job.status())) {
    out.value.set_done(wait_ms > 0);  // asked to wait, and it is final already
    *out.value.mutable_job() = std::move(job);
    return done(std::move(out));
  }
  std::string id = job.id();
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(std::min(wait_ms, kMaxWaitMs));
  auto submitted = std::make_shared<nomad_lite::Job>(std::move(job));
  port_.wait_job(id, deadline,
                 [done = std::move(done), submitted](nomad_lite::Job now, bool final) {
                   Outcome<nomad_lite::SubmitJobResponse> out;
                   // A wait that could not be kept (the node stops, the job was removed) still
                   // answers the submission: the client has the job and can wait elsewhere.
                   if (now.id().empty()) {
                     *out.value.mutable_job() = std::move(*submitted);
                   } else {
                     *out.value.mutable_job() = std::move(now);
                     out.value.set_done(final);
                   }
                   done(std::move(out));
                 });
}

void Service::cancel_job(const nomad_lite::CancelJobRequest& request,
                         std::function<void(Outcome<nomad_lite::Job>)> done) {
  if (Error e = check_job_id(request.job_id()); e.code != Code::kOk) return done({e, {}});
  // Check what this node knows first, so a typo gets NOT_FOUND rather than a log entry. Only
  // the leader's answer counts: a follower may not have applied a job it will have in a moment
  // (a client saw it running on another node), so it passes the cancel on instead.
  bool known =
      read_jobs([&](const jobs::JobStore& s) { return s.find(request.job_id()) != nullptr; });
  if (!known && port_.is_leader()) return done({no_job(request.job_id()), {}});
  nomad_lite::Command command;
  command.mutable_cancel()->set_job_id(request.job_id());
  command.mutable_cancel()->set_at_ms(common::unix_now_ms());
  propose(command, std::move(done));
}

Outcome<nomad_lite::Job> Service::get_job(const nomad_lite::GetJobStatusRequest& request) const {
  Outcome<nomad_lite::Job> out;
  if (out.error = check_job_id(request.job_id()); !out.ok()) return out;
  bool found = read_jobs([&](const jobs::JobStore& s) {
    const nomad_lite::Job* job = s.find(request.job_id());
    if (job) {
      out.value = *job;
      out.value.set_pending_reason(s.pending_reason(*job, common::unix_now_ms()));
    }
    return job != nullptr;
  });
  if (!found) out.error = no_job(request.job_id());
  return out;
}

Outcome<nomad_lite::ListJobsResponse> Service::list_jobs(
    const nomad_lite::ListJobsRequest& request) const {
  Outcome<nomad_lite::ListJobsResponse> out;
  if (!nomad_lite::JobStatus_IsValid(request.status())) {
    out.error = make_error(Code::kInvalidArgument,
                           "status " + std::to_string(request.status()) +
                               " is not a job status: 0 (any), 1 pending, 2 running, "
                               "3 completed, 4 failed, 5 cancelled");
    return out;
  }
  if (request.query().find('\0') != std::string::npos) {
    out.error = make_error(Code::kInvalidArgument, "query contains a NUL byte");
    return out;
  }
  jobs::ListQuery query;
  query.status = request.status();
  query.command_contains = request.query();
  query.limit = request.limit() == 0 ? 100 : std::min<size_t>(request.limit(), kMaxListLimit);
  if (!request.page_token().empty() &&
      !parse_page_token(request.page_token(), &query.before_submit_index)) {
    out.error = make_error(Code::kInvalidArgument,
                           "page_token '" + common::quote_input(request.page_token()) +
                               "' is not one this server gave out; start without one");
    return out;
  }
  jobs::ListPage page = read_jobs([&](const jobs::JobStore& s) {
    jobs::ListPage p = s.list(query);
    int64_t now = common::unix_now_ms();
    for (auto& job : p.jobs) job.set_pending_reason(s.pending_reason(job, now));
    return p;
  });
  size_t page_bytes = 0;
  for (auto& job : page.jobs) {
    // A page of large jobs ends early, at a job boundary, and the next one goes on from there.
    size_t bytes = job.ByteSizeLong();
    if (out.value.jobs_size() > 0 && page_bytes + bytes > kMaxListPageBytes) {
      page.next_before = out.value.jobs(out.value.jobs_size() - 1).submit_index();
      break;
    }
    page_bytes += bytes;
    *out.value.add_jobs() = std::move(job);
  }
  if (page.next_before) out.value.set_next_page_token(std::to_string(page.next_before));
  out.value.set_total(page.total);
  return out;
}

std::vector<Service::JobRef> Service::find_jobs(const std::vector<std::string>& ids) const {
  std::vector<JobRef> out;
  out.reserve(ids.size());
  int64_t now = common::unix_now_ms();
  read_jobs([&](const jobs::JobStore& s) {
    for (const auto& id : ids) {
      JobRef ref{id, s.find_shared(id), {}};
      if (ref.job) ref.pending_reason = s.pending_reason(*ref.job, now);
      out.push_back(std::move(ref));
    }
  });
  return out;
}

jobs::JobTotals Service::job_totals() const {
  return read_jobs([](const jobs::JobStore& s) { return s.totals(); });
}

namespace {

// What the applied state says of a node's or an agent's worker: slots, capacity and what is
// reserved of it, drain and eligibility, running jobs.
void add_worker_state(const jobs::JobStore& s, nomad_lite::NodeStatus* n) {
  *n->mutable_scheduling() = s.scheduling_of(n->id());
  n->set_running_jobs(static_cast<uint32_t>(s.running_on(n->id())));
  if (auto slots = s.node_slots().find(n->id()); slots != s.node_slots().end()) {
    n->set_slots(slots->second);
  }
  if (const auto* capacity = s.capacity_of(n->id())) *n->mutable_capacity() = *capacity;
  *n->mutable_reserved() = jobs::to_resources(s.reserved_on(n->id()));
}

}  // namespace

void Service::add_agents(nomad_lite::GetClusterStatusResponse* r) const {
  // Worker-only agents: alive and last contact as the leader sees them (a follower does not
  // hear their reports: -1).
  read_jobs([&](const jobs::JobStore& s) {
    for (const auto& [id, agent] : s.agents()) {
      auto* n = r->add_nodes();
      n->set_id(id);
      n->set_address(agent.address());
      n->set_role("agent");
      n->set_agent(true);
      const int64_t contact = port_.worker_contact_ms(id);
      n->set_last_contact_ms(contact);
      n->set_alive(contact >= 0 && contact <= port_.worker_timeout_ms());
      add_worker_state(s, n);
    }
  });
}

nomad_lite::GetClusterStatusResponse Service::cluster_status() const {
  ClusterState v = port_.cluster_state();
  nomad_lite::GetClusterStatusResponse r;
  r.set_node_id(v.node_id);
  r.set_role(v.role);
  r.set_term(v.term);
  r.set_leader_id(v.leader_id);
  r.set_leader_address(v.leader_address);
  r.set_commit_index(v.commit_index);
  r.set_applied_index(v.applied_index);
  for (const auto& p : v.nodes) {
    auto* n = r.add_nodes();
    n->set_id(p.id);
    n->set_address(p.address);
    n->set_role(p.role);
    n->set_alive(p.alive);
    n->set_match_index(p.match_index);
    n->set_last_contact_ms(p.last_contact_ms);
  }
  read_jobs([&](const jobs::JobStore& s) {
    for (auto& n : *r.mutable_nodes()) add_worker_state(s, &n);
  });
  add_agents(&r);
  r.mutable_security()->set_tls(v.tls);
  r.mutable_security()->set_tokens(auth_.enabled());
  r.mutable_security()->set_insecure(v.insecure);
  return r;
}

}  // namespace nomad::api

namespace nomad::api {
namespace {

const nomad_lite::Attempt* find_attempt(const nomad_lite::Job& job, uint32_t number) {
  for (const auto& a : job.attempts()) {
    if (a.number() == number) return &a;
  }
  return nullptr;
}

constexpr size_t kChunkBytes = 64 << 10;

}  // namespace

void Service::wait_job(const nomad_lite::WaitJobRequest& request,
                       std::function<void(Outcome<nomad_lite::WaitJobResponse>)> done) {
  if (Error e = check_job_id(request.job_id()); e.code != Code::kOk) return done({e, {}});
  if (request.min_index() != 0 || request.consistent()) {
    // Wait for the barrier first, then come back without it (the job is known by then, or
    // confirmed missing below).
    return read_barrier(request.min_index(), request.consistent(),
                        [this, request, done = std::move(done)](Error e, uint64_t) mutable {
                          if (e.code != Code::kOk) return done({std::move(e), {}});
                          nomad_lite::WaitJobRequest plain = request;
                          plain.set_min_index(0);
                          plain.set_consistent(false);
                          wait_job(plain, std::move(done));
                        });
  }
  bool known =
      read_jobs([&](const jobs::JobStore& s) { return s.find(request.job_id()) != nullptr; });
  if (!known) {
    // Not applied here yet, or no such job: a ReadIndex tells which before NOT_FOUND.
    nomad_lite::WaitJobRequest confirmed = request;
    confirmed.set_consistent(true);
    if (request.min_index() == 0 && !request.consistent()) {
      return read_barrier(0, true, [this, confirmed, done = std::move(done)](Error e, uint64_t) {
        if (e.code != Code::kOk) return done({std::move(e), {}});
        bool now_known = read_jobs(
            [&](const jobs::JobStore& s) { return s.find(confirmed.job_id()) != nullptr; });
        if (!now_known) return done({no_job(confirmed.job_id()), {}});
        nomad_lite::WaitJobRequest plain = confirmed;
        plain.set_consistent(false);
        wait_job(plain, done);
      });
    }
    return done({no_job(request.job_id()), {}});
  }
  uint64_t ms = request.timeout_ms() == 0 ? kMaxWaitMs : std::min(request.timeout_ms(), kMaxWaitMs);
  port_.wait_job(request.job_id(), std::chrono::steady_clock::now() + std::chrono::milliseconds(ms),
                 [done = std::move(done), id = request.job_id()](nomad_lite::Job job, bool final) {
                   Outcome<nomad_lite::WaitJobResponse> out;
                   if (final && job.id().empty()) {
                     out.error = make_error(Code::kNotFound, "job " + id + " was removed");
                   } else if (job.id().empty()) {
                     out.error = make_error(Code::kUnavailable, "the node is shutting down");
                   }
                   *out.value.mutable_job() = std::move(job);
                   out.value.set_done(final);
                   done(std::move(out));
                 });
}

bool Service::await_job(const std::string& id,
                        const std::function<bool(const nomad_lite::Job&)>& ready,
                        std::chrono::steady_clock::time_point deadline,
                        const std::function<bool()>& cancelled) {
  return changes_.wait_until(
      id, deadline,
      [&] {
        return read_jobs([&](const jobs::JobStore& s) {
          const nomad_lite::Job* job = s.find(id);
          return job != nullptr && ready(*job);
        });
      },
      cancelled);
}

Error Service::stream_local_logs(const nomad_lite::JobLogsRequest& request,
                                 const ChunkWriter& write, const std::function<bool()>& cancelled) {
  uint64_t offset = request.offset();
  int silent_polls = 0;
  while (!cancelled()) {
    LocalOutput r = port_.read_local_output(
        request.job_id(), request.attempt(), request.stderr(), offset, kChunkBytes,
        request.follow() ? std::chrono::milliseconds(500) : std::chrono::milliseconds(0));
    if (!r.status) return make_error(Code::kNotFound, r.status.message());
    if (!r.data.empty()) {
      silent_polls = 0;
      nomad_lite::LogChunk chunk;
      chunk.set_offset(offset);
      chunk.set_truncated(r.truncated);
      offset += r.data.size();
      chunk.set_data(std::move(r.data));
      if (!write(chunk)) return {};
      continue;
    }
    if (r.finished || !request.follow()) return {};
    // An empty chunk every second of silence: a reader on another node, blocked waiting for
    // the next chunk, gets to see that its own client went away.
    if (++silent_polls % 2 == 0) {
      nomad_lite::LogChunk chunk;
      chunk.set_offset(offset);
      if (!write(chunk)) return {};
    }
  }
  return {};
}

Error Service::stream_logs(const nomad_lite::JobLogsRequest& request, const ChunkWriter& write,
                           const std::function<bool()>& cancelled) {
  if (Error e = check_job_id(request.job_id()); e.code != Code::kOk) return e;
  if (Error e = await_read(request.min_index(), request.consistent()); e.code != Code::kOk) {
    return e;
  }
  if (!knows_job_confirmed(request.job_id())) return no_job(request.job_id());
  // A followed job that is still pending has no output yet: wait for its first attempt, woken
  // by the job's changes.
  nomad_lite::Job job;
  bool found = false;
  bool ready = changes_.wait_until(
      request.job_id(), std::chrono::steady_clock::time_point::max(),
      [&] {
        found = read_jobs([&](const jobs::JobStore& s) {
          const nomad_lite::Job* j = s.find(request.job_id());
          if (j) job = *j;
          return j != nullptr;
        });
        return !found || job.attempts_size() > 0 || !request.follow() ||
               jobs::is_final(job.status());
      },
      cancelled);
  if (!found) return no_job(request.job_id());
  if (!ready) return {};                    // cancelled, or the server stops
  if (job.attempts_size() == 0) return {};  // never ran: no output
  uint32_t number = request.attempt() ? request.attempt() : job.attempt();
  const nomad_lite::Attempt* attempt = find_attempt(job, number);
  if (!attempt) {
    return make_error(Code::kNotFound, "job " + job.id() + " has no attempt " +
                                           std::to_string(number) + " (it has " +
                                           std::to_string(job.attempts_size()) + ")");
  }
  nomad_lite::JobLogsRequest local = request;
  local.set_attempt(number);
  if (attempt->node_id() == port_.cluster_state().node_id) {
    Error e = stream_local_logs(local, write, cancelled);
    if (e.code == Code::kOk) return e;
  } else {
    // The full output lives on the node that ran the attempt.
    bool reached = port_.stream_remote_output(
        attempt->node_id(), local,
        [&](const nomad_lite::LogChunk& chunk) { return write(chunk) && !cancelled(); });
    if (reached) return {};
  }
  // The full output is out of reach: the cluster still has the last attempt's tail.
  if (number != job.attempt() || !jobs::is_final(job.status())) {
    return make_error(Code::kUnavailable,
                      "the output of job " + job.id() + " attempt " + std::to_string(number) +
                          " is on node " + std::to_string(attempt->node_id()) +
                          ", which cannot be reached; try again when it is back");
  }
  nomad_lite::LogChunk chunk;
  const std::string& tail = request.stderr() ? job.stderr_tail() : job.stdout_tail();
  if (request.offset() < tail.size()) chunk.set_data(tail.substr(request.offset()));
  chunk.set_tail_only(true);
  chunk.set_truncated(request.stderr() ? job.stderr_truncated() : job.stdout_truncated());
  write(chunk);
  return {};
}

}  // namespace nomad::api
