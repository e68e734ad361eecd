#include "api/agent_streams.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

#include "metrics/registry.h"
#include "proto/nomad_lite.grpc.pb.h"
#include "transport/decoded_call.h"

namespace nomad::api {

namespace {

using WriteReactor = grpc::ServerWriteReactor<grpc::ByteBuffer>;

metrics::Gauge& open_streams_gauge() {
  static metrics::Gauge& gauge =
      metrics::default_registry()
          .gauge("nomad_lite_agent_streams_open",
                 "Worker-only agents with their AgentStream open to this server (the leader: "
                 "every connected agent; an idle agent is known alive by it).")
          .get();
  return gauge;
}

// A stream refused before its first message.
class RefusedStream final : public WriteReactor {
 public:
  explicit RefusedStream(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

nomad_lite::Job job_for_agent(const nomad_lite::Job& job) {
  nomad_lite::Job out = job;
  // The agent's worker needs the command and the attempts; the replicated output tails are
  // for readers of the job, and only make every update larger.
  out.clear_stdout_tail();
  out.clear_stderr_tail();
  return out;
}

// One agent's stream: the updates waiting to be written, merged, and the write in flight.
class AgentStreams::Stream {
 public:
  explicit Stream(uint64_t agent) : agent(agent) {}

  const uint64_t agent;
  std::mutex mu;
  Reactor* reactor = nullptr;  // null once done
  bool writing = false;
  bool finishing = false;
  bool finished = false;
  grpc::Status status;
  // Waiting to be written (merged).
  bool pending = false;
  bool pending_full = false;
  std::map<std::string, nomad_lite::Job> jobs;
  std::set<std::string> removed;
  uint64_t applied = 0;
  uint64_t term = 0;
  std::deque<nomad_lite::AgentUpdate> parts;  // built from the pending update, not yet written
  std::atomic<uint64_t> posted_index{0};      // the newest applied index posted

  // Merges `update` into what waits; starts a write if none is in flight.
  void post(nomad_lite::AgentUpdate update);
  // Ends the stream once no write is in flight.
  void end(grpc::Status why);
  void write_done(bool ok);

 private:
  // Called with `mu` held and `writing` claimed: the next part to write, if any.
  bool next_part(nomad_lite::AgentUpdate* out);
  void finish_if_idle(std::unique_lock<std::mutex> lock);
  void start_write(const nomad_lite::AgentUpdate& update);
};

class AgentStreams::Reactor final : public WriteReactor {
 public:
  Reactor(AgentStreams& owner, std::shared_ptr<Stream> stream)
      : owner_(owner), stream_(std::move(stream)) {}

  void write(const nomad_lite::AgentUpdate& update) {
    if (!transport::encode(update, &bytes_)) {
      spdlog::error("an agent update could not be encoded; ending agent {}'s stream",
                    stream_->agent);
      {
        std::lock_guard lock(stream_->mu);
        stream_->writing = false;
      }
      stream_->end({grpc::StatusCode::INTERNAL, "an update could not be encoded"});
      return;
    }
    StartWrite(&bytes_);
  }
  void finish(grpc::Status status) { Finish(std::move(status)); }

  void OnWriteDone(bool ok) override { stream_->write_done(ok); }
  void OnCancel() override { stream_->end(grpc::Status::CANCELLED); }
  void OnDone() override {
    {
      std::lock_guard lock(stream_->mu);
      stream_->reactor = nullptr;
    }
    owner_.closed(stream_);
    delete this;
  }

 private:
  AgentStreams& owner_;
  std::shared_ptr<Stream> stream_;
  grpc::ByteBuffer bytes_;
};

void AgentStreams::Stream::post(nomad_lite::AgentUpdate update) {
  std::unique_lock lock(mu);
  if (!reactor || finishing) return;
  uint64_t index = update.applied_index();
  if (update.full()) {
    jobs.clear();
    removed.clear();
    parts.clear();
    pending_full = true;
  }
  for (auto& job : *update.mutable_jobs()) {
    removed.erase(job.id());
    std::string id = job.id();
    jobs[id] = std::move(job);
  }
  for (const auto& id : update.removed()) {
    jobs.erase(id);
    removed.insert(id);
  }
  applied = std::max(applied, index);
  term = std::max(term, update.term());
  pending = true;
  posted_index = std::max(posted_index.load(), index);
  if (writing) return;
  writing = true;
  nomad_lite::AgentUpdate next;
  if (!next_part(&next)) {
    writing = false;
    return;
  }
  lock.unlock();  // a reaction may run inline: never start an operation under the lock
  start_write(next);
}

bool AgentStreams::Stream::next_part(nomad_lite::AgentUpdate* out) {
  if (parts.empty() && pending) {
    // Split so that no message nears the gRPC limit: the first part is the full one (it drops
    // what the agent had), the others only add jobs.
    nomad_lite::AgentUpdate part;
    part.set_full(pending_full);
    part.set_applied_index(applied);
    part.set_term(term);
    for (const auto& id : removed) part.add_removed(id);
    size_t bytes = part.ByteSizeLong();
    for (auto& [id, job] : jobs) {
      size_t size = job.ByteSizeLong();
      if (part.jobs_size() > 0 && bytes + size > kMaxAgentUpdateBytes) {
        parts.push_back(std::move(part));
        part = {};
        part.set_applied_index(applied);
        part.set_term(term);
        bytes = 0;
      }
      bytes += size + 8;
      *part.add_jobs() = std::move(job);
    }
    parts.push_back(std::move(part));
    jobs.clear();
    removed.clear();
    pending = false;
    pending_full = false;
  }
  if (parts.empty()) return false;
  *out = std::move(parts.front());
  parts.pop_front();
  return true;
}

void AgentStreams::Stream::start_write(const nomad_lite::AgentUpdate& update) {
  Reactor* r;
  {
    std::lock_guard lock(mu);
    r = reactor;
  }
  if (r) r->write(update);
}

void AgentStreams::Stream::write_done(bool ok) {
  std::unique_lock lock(mu);
  if (!ok) {
    finishing = true;  // the stream broke: end it
    writing = false;
    return finish_if_idle(std::move(lock));
  }
  nomad_lite::AgentUpdate next;
  if (!finishing && next_part(&next)) {
    lock.unlock();
    start_write(next);
    return;
  }
  writing = false;
  finish_if_idle(std::move(lock));
}

void AgentStreams::Stream::end(grpc::Status why) {
  std::unique_lock lock(mu);
  if (!finishing) status = std::move(why);
  finishing = true;
  finish_if_idle(std::move(lock));
}

void AgentStreams::Stream::finish_if_idle(std::unique_lock<std::mutex> lock) {
  if (!finishing || writing || finished || !reactor) return;
  finished = true;
  Reactor* r = reactor;
  grpc::Status s = status;
  lock.unlock();
  r->finish(std::move(s));
}

AgentStreams::AgentStreams(Source source, const PeerGate& gate,
                           std::chrono::milliseconds leader_recheck)
    : source_(std::move(source)), gate_(gate), leader_recheck_(leader_recheck) {
  thread_ = std::thread([this] { run(); });
}

AgentStreams::~AgentStreams() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void AgentStreams::jobs_changed(const std::vector<std::string>& ids) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  bool was_empty = changed_.empty();
  changed_.insert(changed_.end(), ids.begin(), ids.end());
  if (was_empty) cv_.notify_one();
}

void AgentStreams::applied(uint64_t index) {
  std::lock_guard lock(mu_);
  if (wanted_check_) return;  // the thread is woken already
  for (const auto& [agent, wanted] : wanted_index_) {
    if (wanted > index) continue;
    wanted_check_ = true;
    cv_.notify_one();
    return;
  }
}

void AgentStreams::leadership_changed() {
  std::lock_guard lock(mu_);
  leadership_checked_ = false;
  cv_.notify_one();
}

void AgentStreams::acked(uint64_t agent, uint64_t last_index) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(agent);
  if (it == streams_.end() || it->second->posted_index >= last_index) return;
  uint64_t& wanted = wanted_index_[agent];
  if (last_index <= wanted) return;
  wanted = last_index;
  // It may be applied already; if not, applied() wakes the thread once it is.
  wanted_check_ = true;
  cv_.notify_one();
}

size_t AgentStreams::open_streams() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* AgentStreams::open(grpc::CallbackServerContext* context,
                                                               const grpc::ByteBuffer* request) {
  auto caller = gate_.admit_worker(*context);
  if (!caller.ok()) return new RefusedStream(to_grpc_status(caller.error));
  if (gate_.tls() && caller.value.agent.empty()) {
    return new RefusedStream({grpc::StatusCode::PERMISSION_DENIED,
                              "only an agent's certificate (tls init --agents N) may open an "
                              "agent's stream"});
  }
  nomad_lite::AgentStreamRequest req;
  grpc::ByteBuffer copy(*request);
  if (grpc::Status decoded = transport::decode(&copy, &req); !decoded.ok()) {
    return new RefusedStream(decoded);
  }
  if (!source_.is_leader()) {
    return new RefusedStream({grpc::StatusCode::UNAVAILABLE,
                              "this server is not the leader: register again to find it"});
  }
  bool registered = false;
  std::string certificate;
  source_.read([&](const jobs::JobStore& store, uint64_t) {
    if (const auto* a = store.agent(req.agent_id())) {
      registered = true;
      certificate = a->certificate();
    }
  });
  if (!registered) {
    return new RefusedStream(
        {grpc::StatusCode::NOT_FOUND, "agent " + std::to_string(req.agent_id()) +
                                          " is not registered with this cluster: register first"});
  }
  if (!caller.value.agent.empty() && caller.value.agent != certificate) {
    return new RefusedStream(
        {grpc::StatusCode::PERMISSION_DENIED,
         "the certificate is " + caller.value.agent + "'s, which did not register agent " +
             std::to_string(req.agent_id()) + ": an agent opens only its own stream"});
  }
  auto stream = std::make_shared<Stream>(req.agent_id());
  auto* reactor = new Reactor(*this, stream);
  stream->reactor = reactor;
  std::shared_ptr<Stream> replaced;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      stream->reactor = nullptr;
      delete reactor;
      return new RefusedStream({grpc::StatusCode::UNAVAILABLE, "this server is shutting down"});
    }
    auto& slot = streams_[req.agent_id()];
    replaced = std::move(slot);
    slot = stream;
    open_streams_gauge().set(static_cast<double>(streams_.size()));
    fresh_.push_back(stream);
    wanted_index_.erase(req.agent_id());
    cv_.notify_one();
  }
  // An agent has one stream: an older one (a connection it gave up on) ends.
  if (replaced) replaced->end({grpc::StatusCode::CANCELLED, "the agent opened a newer stream"});
  return reactor;
}

void AgentStreams::closed(const std::shared_ptr<Stream>& stream) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream->agent);
  if (it != streams_.end() && it->second == stream) {
    streams_.erase(it);
    wanted_index_.erase(stream->agent);
    open_streams_gauge().set(static_cast<double>(streams_.size()));
  }
}

void AgentStreams::end_all(const grpc::Status& status) {
  std::vector<std::shared_ptr<Stream>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [agent, s] : streams_) all.push_back(s);
    fresh_.clear();
  }
  for (auto& s : all) s->end(status);
}

void AgentStreams::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  end_all({grpc::StatusCode::UNAVAILABLE, "the server is stopping"});
}

void AgentStreams::run() {
  std::vector<std::string> changed;
  std::vector<std::shared_ptr<Stream>> fresh;
  while (true) {
    bool check_leader = false;
    {
      std::unique_lock lock(mu_);
      auto ready = [&] {
        return stopping_ || !changed_.empty() || !fresh_.empty() || !leadership_checked_ ||
               wanted_check_;
      };
      if (!streams_.empty()) {
        // The leader listener may run before the node publishes its new role: look again.
        const auto wake = source_.connected ? std::min(leader_recheck_, source_.connected_every)
                                            : leader_recheck_;
        if (!cv_.wait_for(lock, wake, ready)) leadership_checked_ = false;
      } else {
        cv_.wait(lock, ready);
      }
      if (stopping_) return;
      check_leader = !leadership_checked_;
      leadership_checked_ = true;
      wanted_check_ = false;
      changed.swap(changed_);
      fresh.swap(fresh_);
    }
    if (check_leader && !source_.is_leader()) {
      end_all({grpc::StatusCode::UNAVAILABLE,
               "this server is no longer the leader: register again to find it"});
      fresh.clear();
    }
    tell_connected();
    // Built under the store's read lock, posted (merged, maybe written) after it.
    std::vector<std::pair<std::shared_ptr<Stream>, nomad_lite::AgentUpdate>> out;
    source_.read([&](const jobs::JobStore& store, uint64_t applied) {
      collect(store, applied, changed, fresh, &out);
    });
    for (auto& [stream, update] : out) stream->post(std::move(update));
    changed.clear();
    fresh.clear();
  }
}

void AgentStreams::tell_connected() {
  if (!source_.connected) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_connected_) return;
  next_connected_ = now + source_.connected_every;
  std::vector<uint64_t> agents;
  {
    std::lock_guard lock(mu_);
    agents.reserve(streams_.size());
    for (const auto& [agent, stream] : streams_) agents.push_back(agent);
  }
  if (!agents.empty()) source_.connected(std::move(agents));
}

void AgentStreams::collect(
    const jobs::JobStore& store, uint64_t applied, std::vector<std::string>& changed,
    std::vector<std::shared_ptr<Stream>>& fresh,
    std::vector<std::pair<std::shared_ptr<Stream>, nomad_lite::AgentUpdate>>* out) {
  const uint64_t term = source_.term();
  std::map<uint64_t, uint64_t> wanted;
  {
    std::lock_guard lock(mu_);
    wanted = wanted_index_;
  }
  std::set<Stream*> is_fresh;
  for (const auto& s : fresh) is_fresh.insert(s.get());
  // The open streams of the agents this batch concerns, looked up once each (with a thousand
  // agents, copying every stream per batch would cost more than the batch).
  std::unordered_map<uint64_t, std::shared_ptr<Stream>> streams;
  auto stream_of = [&](uint64_t agent) -> Stream* {
    auto [it, added] = streams.try_emplace(agent);
    if (added) {
      std::lock_guard lock(mu_);
      if (auto open = streams_.find(agent); open != streams_.end()) it->second = open->second;
    }
    return it->second.get();
  };
  std::map<uint64_t, nomad_lite::AgentUpdate> updates;
  auto update_of = [&](uint64_t agent) -> nomad_lite::AgentUpdate* {
    Stream* s = stream_of(agent);
    if (!s || is_fresh.count(s)) return nullptr;
    return &updates[agent];
  };

  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  for (const auto& id : changed) {
    const nomad_lite::Job* job = store.find(id);
    std::vector<uint64_t> now;
    if (job) {
      for (const auto& a : job->attempts()) {
        if (store.agent(a.node_id()) &&
            std::find(now.begin(), now.end(), a.node_id()) == now.end()) {
          now.push_back(a.node_id());
        }
      }
    }
    std::vector<uint64_t> before;
    if (auto it = job_agents_.find(id); it != job_agents_.end()) before = std::move(it->second);
    for (uint64_t agent : before) {
      if (std::find(now.begin(), now.end(), agent) != now.end()) continue;
      auto it = agent_jobs_.find(agent);
      if (it != agent_jobs_.end()) {
        it->second.erase(id);
        if (it->second.empty()) agent_jobs_.erase(it);
      }
      if (auto* u = update_of(agent)) u->add_removed(id);
    }
    for (uint64_t agent : now) {
      agent_jobs_[agent].insert(id);
      if (auto* u = update_of(agent)) *u->add_jobs() = job_for_agent(*job);
    }
    if (now.empty()) {
      job_agents_.erase(id);
    } else {
      job_agents_[id] = std::move(now);
    }
  }
  for (const auto& s : fresh) {
    nomad_lite::AgentUpdate full;
    full.set_full(true);
    if (auto it = agent_jobs_.find(s->agent); it != agent_jobs_.end()) {
      for (const auto& id : it->second) {
        if (const nomad_lite::Job* job = store.find(id)) *full.add_jobs() = job_for_agent(*job);
      }
    }
    full.set_applied_index(applied);
    full.set_term(term);
    out->emplace_back(s, std::move(full));
  }
  // Streams whose agent's ack named an index applied by now: the index alone, if nothing else.
  std::vector<uint64_t> met;
  for (const auto& [agent, index] : wanted) {
    if (applied < index) continue;
    met.push_back(agent);
    Stream* s = stream_of(agent);
    if (s && !is_fresh.count(s) && s->posted_index < index) {
      updates[agent];  // an empty update carries the index
    }
  }
  if (!met.empty()) {
    std::lock_guard lock(mu_);
    for (uint64_t agent : met) {
      auto it = wanted_index_.find(agent);
      if (it != wanted_index_.end() && it->second <= applied) wanted_index_.erase(it);
    }
  }
  for (auto& [agent, update] : updates) {
    update.set_applied_index(applied);
    update.set_term(term);
    out->emplace_back(streams[agent], std::move(update));
  }
}

}  // namespace nomad::api
