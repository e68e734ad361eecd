#include "cli/sim_agents.h"

#include "cli/client.h"
#include "cli/sim_agent_jobs.h"
#include "common/random_id.h"
#include "common/unix_time.h"
#include "transport/channel_args.h"
#include "transport/security.h"

namespace nomad::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kTick = std::chrono::milliseconds(10);  // the heartbeat thread's step
constexpr auto kCallTimeout = std::chrono::seconds(5);
constexpr auto kReopenBackoff = std::chrono::milliseconds(250);
constexpr auto kLeaderAskInterval = std::chrono::milliseconds(500);
// A simulated agent's address, where servers would fetch its jobs' output: it has none (its
// jobs print nothing), and nothing listens there.
constexpr const char* kNoOutputAddress = "127.0.0.1:1";

}  // namespace

// One simulated agent. Its two streams are reactors that live from open() to their OnDone;
// mu_ guards everything they share with the heartbeat thread. No gRPC operation is started
// (nor a call cancelled) while mu_ is held: gRPC may run a reaction inline, and it takes mu_.
class AgentFleet::Agent {
 public:
  Agent(AgentFleet& fleet, int index) : fleet_(fleet), index_(index), jobs_(0) {}

  // RegisterAgent at `address` (synchronous). OK: the agent has its id.
  grpc::Status register_at(nomad_lite::InternalService::Stub& stub) {
    nomad_lite::RegisterAgentRequest request;
    request.set_name(fleet_.options_.capacity.name() + "-" + std::to_string(index_));
    request.set_address(kNoOutputAddress);
    request.set_slots(fleet_.options_.slots);
    *request.mutable_capacity() = capacity();
    nomad_lite::RegisterAgentResponse response;
    grpc::ClientContext context;
    transport::add_call_credentials(&context);
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    grpc::Status status = stub.RegisterAgent(&context, request, &response);
    if (!status.ok()) {
      last_hint_ = leader_address_hint(context, status);
      return status;
    }
    if (response.id() == 0) {
      return {grpc::StatusCode::INTERNAL, "RegisterAgent answered without an id"};
    }
    id_ = response.id();
    jobs_ = SimAgentJobs(id_);
    if (!response.leader_address().empty()) fleet_.set_leader(response.leader_address());
    return status;
  }

  uint64_t id() const { return id_; }
  const std::string& last_hint() const { return last_hint_; }

  // Opens both streams to `address`. Only when neither is open (start(), the heartbeat thread).
  void open(const std::string& address) {
    stub_ = nomad_lite::InternalService::NewStub(fleet_.channel(address, index_));
    report_context_ = std::make_unique<grpc::ClientContext>();
    update_context_ = std::make_unique<grpc::ClientContext>();
    transport::add_call_credentials(report_context_.get());
    transport::add_call_credentials(update_context_.get());
    auto* report = new ReportReactor(*this);
    auto* update = new UpdateReactor(*this);
    {
      std::lock_guard lock(mu_);
      report_ = report;
      report_open_ = update_open_ = true;
      report_dead_ = writing_ = want_write_ = hold_released_ = false;
      got_update_ = got_ack_ = false;
    }
    {
      std::lock_guard lock(fleet_.mu_);
      fleet_.live_streams_ += 2;
    }
    report->StartCall();
    update->StartCall();
    send_report();  // the first heartbeat at once: slots and capacity, and any owed finish
  }

  // One heartbeat step: a report while the streams are open; else reopen them (both) once
  // the backoff has passed, closing the survivor of a pair first.
  void tick(Clock::time_point now) {
    if (id_ == 0) return;
    bool report_open, update_open;
    Clock::time_point reopen_at;
    {
      std::lock_guard lock(mu_);
      report_open = report_open_;
      update_open = update_open_;
      reopen_at = reopen_at_;
    }
    if (report_open && update_open) {
      if (due_for_heartbeat(now)) send_report();
    } else if (report_open || update_open) {
      cancel();
    } else if (now >= reopen_at) {
      fleet_.waiting_reopen_.fetch_sub(1);
      fleet_.restarts_.fetch_add(1);
      open(fleet_.leader());
    }
  }

  // Cancels both streams (their contexts change only in open(), never concurrently).
  void cancel() {
    if (report_context_) report_context_->TryCancel();
    if (update_context_) update_context_->TryCancel();
  }

 private:
  class ReportReactor
      : public grpc::ClientBidiReactor<nomad_lite::WorkerReport, nomad_lite::WorkerReportAck> {
   public:
    explicit ReportReactor(Agent& agent) : agent_(agent) {
      agent.stub_->async()->ReportStream(agent.report_context_.get(), this);
      AddHold();  // writes start from outside reactions: held until the stream is dead
      StartRead(&ack_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) return agent_.report_read_failed();
      agent_.on_ack(ack_);
      StartRead(&ack_);
    }
    void OnWriteDone(bool ok) override { agent_.report_written(ok); }
    void OnDone(const grpc::Status& status) override {
      agent_.report_done(status);
      delete this;
    }
    nomad_lite::WorkerReport out;  // the report being written

   private:
    Agent& agent_;
    nomad_lite::WorkerReportAck ack_;
  };

  class UpdateReactor : public grpc::ClientReadReactor<nomad_lite::AgentUpdate> {
   public:
    explicit UpdateReactor(Agent& agent) : agent_(agent) {
      request_.set_agent_id(agent.id_);
      agent.stub_->async()->AgentStream(agent.update_context_.get(), &request_, this);
      StartRead(&update_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;  // OnDone follows
      agent_.on_update(update_);
      update_.Clear();
      StartRead(&update_);
    }
    void OnDone(const grpc::Status& status) override {
      agent_.update_done(status);
      delete this;
    }

   private:
    Agent& agent_;
    nomad_lite::AgentStreamRequest request_;
    nomad_lite::AgentUpdate update_;
  };

  nomad_lite::NodeCapacity capacity() const {
    nomad_lite::NodeCapacity capacity = fleet_.options_.capacity;
    capacity.set_name(capacity.name() + "-" + std::to_string(index_));
    return capacity;
  }

  // A heartbeat is due at this tick: every one while finishes are owed, else once per
  // idle_heartbeat (ticks come every `heartbeat`: the nearest one).
  bool due_for_heartbeat(Clock::time_point now) {
    const auto& o = fleet_.options_;
    std::lock_guard lock(mu_);
    if (jobs_.owed() > 0 || o.idle_heartbeat <= o.heartbeat) return true;
    return now - last_report_ + o.heartbeat / 2 >= o.idle_heartbeat;
  }

  // Writes a report now, or right after the one being written (it then carries the newest
  // owed finishes).
  void send_report() {
    ReportReactor* reactor;
    {
      std::lock_guard lock(mu_);
      if (!report_ || report_dead_) return;
      if (writing_) {
        want_write_ = true;
        return;
      }
      writing_ = true;
      fill_locked(&report_->out);
      reactor = report_;
    }
    fleet_.reports_.fetch_add(1, std::memory_order_relaxed);
    reactor->StartWrite(&reactor->out);
  }

  // MUST hold mu_.
  void fill_locked(nomad_lite::WorkerReport* report) {
    report->Clear();
    report->set_node_id(id_);
    report->set_slots(fleet_.options_.slots);
    report->set_seq(++seq_);
    last_report_ = Clock::now();
    *report->mutable_capacity() = capacity();
    jobs_.add_owed(report);
  }

  void report_written(bool ok) {
    ReportReactor* reactor = nullptr;
    {
      std::unique_lock lock(mu_);
      writing_ = false;
      if (!ok) report_dead_ = true;
      if (report_dead_) return release_hold(std::move(lock));
      if (!want_write_) return;
      want_write_ = false;
      writing_ = true;
      fill_locked(&report_->out);
      reactor = report_;
    }
    fleet_.reports_.fetch_add(1, std::memory_order_relaxed);
    reactor->StartWrite(&reactor->out);
  }

  void report_read_failed() {
    std::unique_lock lock(mu_);
    report_dead_ = true;
    release_hold(std::move(lock));
  }

  // Lets the report stream end once it is dead and no write is in flight (once).
  void release_hold(std::unique_lock<std::mutex> lock) {
    if (!report_dead_ || writing_ || hold_released_) return;
    hold_released_ = true;
    ReportReactor* reactor = report_;
    lock.unlock();
    reactor->RemoveHold();
  }

  void on_ack(const nomad_lite::WorkerReportAck& ack) {
    fleet_.acks_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    if (ack.leader()) got_ack_ = true;
    count_connected_locked();
  }

  void on_update(const nomad_lite::AgentUpdate& update) {
    fleet_.updates_.fetch_add(1, std::memory_order_relaxed);
    SimAgentJobs::Changes changes;
    {
      std::lock_guard lock(mu_);
      changes = jobs_.apply(update, common::unix_now_ms());
      got_update_ = true;
      count_connected_locked();
    }
    if (fleet_.observer_.placed) {
      for (const auto* job : changes.placed) fleet_.observer_.placed(*job);
    }
    if (fleet_.observer_.finished) {
      for (const auto* job : changes.finished) fleet_.observer_.finished(*job);
    }
    if (!changes.placed.empty()) send_report();
  }

  void report_done(const grpc::Status& status) {
    stream_done(status, *report_context_, &report_open_);
  }
  void update_done(const grpc::Status& status) {
    stream_done(status, *update_context_, &update_open_);
  }

  void stream_done(const grpc::Status& status, const grpc::ClientContext& context, bool* open) {
    std::string hint = leader_address_hint(context, status);
    {
      std::lock_guard lock(mu_);
      *open = false;
      if (open == &report_open_) report_ = nullptr;
      count_connected_locked();
      if (!report_open_ && !update_open_) {
        // As a real agent: streams ended together are reopened apart.
        reopen_at_ =
            Clock::now() + kReopenBackoff + common::random_delay(transport::kAgentRejoinSpread);
        fleet_.waiting_reopen_.fetch_add(1);
      }
    }
    if (!hint.empty()) fleet_.set_leader(hint);
    fleet_.stream_done(status);
  }

  // Keeps the fleet's count of connected agents. MUST hold mu_.
  void count_connected_locked() {
    bool connected = got_update_ && got_ack_ && report_open_ && update_open_;
    if (connected == counted_) return;
    counted_ = connected;
    fleet_.connected_.fetch_add(connected ? 1 : -1);
  }

  AgentFleet& fleet_;
  const int index_;
  uint64_t id_ = 0;
  std::string last_hint_;  // a follower's leader-addr, from the last failed registration
  // Replaced only in open(), while no stream is open.
  std::unique_ptr<nomad_lite::InternalService::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> report_context_, update_context_;

  std::mutex mu_;
  Clock::time_point reopen_at_{};  // when the streams may be reopened, once both ended
  SimAgentJobs jobs_;
  uint64_t seq_ = 0;
  Clock::time_point last_report_{};                 // when the last report was filled
  ReportReactor* report_ = nullptr;                 // until its OnDone
  bool report_open_ = false, update_open_ = false;  // their reactors are not done yet
  bool report_dead_ = false;                        // the report stream failed: no more writes
  bool writing_ = false;                            // a write is in flight
  bool want_write_ = false;                         // another report is due when it completes
  bool hold_released_ = false;                      // the report stream may end
  bool got_update_ = false, got_ack_ = false, counted_ = false;
};

AgentFleet::AgentFleet(FleetOptions options, std::vector<std::string> servers,
                       FleetObserver observer)
    : options_(std::move(options)), servers_(std::move(servers)), observer_(std::move(observer)) {
  for (int i = 0; i < options_.agents; ++i) {
    agents_.push_back(std::make_unique<Agent>(*this, i + 1));
  }
}

AgentFleet::~AgentFleet() { stop(); }

std::shared_ptr<grpc::Channel> AgentFleet::channel(const std::string& address, int agent_index) {
  int connection = agent_index;
  if (agent_index > 0 && options_.connections > 0) connection = agent_index % options_.connections;
  std::lock_guard lock(mu_);
  auto& channel = channels_[{address, connection}];
  if (!channel) {
    // A real agent's settings (node-to-node: keepalive, short reconnect backoff), and an
    // argument that gives each connection number a connection of its own.
    grpc::ChannelArguments args = transport::agent_channel_arguments();
    args.SetInt("nomad.channel_index", connection);
    channel = grpc::CreateCustomChannel(address, transport::channel_credentials(), args);
  }
  return channel;
}

int AgentFleet::register_all(Clock::time_point deadline, std::string* first_error) {
  std::atomic<int> next{0}, registered{0};
  std::mutex error_mu;
  auto worker = [&](int worker_index) {
    std::map<std::string, std::unique_ptr<nomad_lite::InternalService::Stub>> stubs;
    auto stub = [&](const std::string& address) -> nomad_lite::InternalService::Stub& {
      auto& slot = stubs[address];
      if (!slot) slot = nomad_lite::InternalService::NewStub(channel(address, -1 - worker_index));
      return *slot;
    };
    size_t server = 0;
    std::string target = servers_.front();
    for (int i; (i = next.fetch_add(1)) < options_.agents && !stopping_;) {
      Agent& agent = *agents_[static_cast<size_t>(i)];
      while (true) {
        grpc::Status status = agent.register_at(stub(target));
        if (status.ok()) {
          registered.fetch_add(1);
          break;
        }
        if (Clock::now() >= deadline) {
          std::lock_guard lock(error_mu);
          if (first_error->empty())
            *first_error = "RegisterAgent at " + target + ": " + describe(status);
          break;
        }
        if (!agent.last_hint().empty()) {
          target = agent.last_hint();
        } else {
          target = servers_[++server % servers_.size()];
          std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a backoff, no wait
        }
      }
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < std::min(options_.register_parallel, options_.agents); ++w) {
    workers.emplace_back(worker, w);
  }
  for (auto& w : workers) w.join();
  return registered.load();
}

void AgentFleet::start() {
  const std::string leader_address = leader().empty() ? servers_.front() : leader();
  for (auto& agent : agents_) {
    if (agent->id() != 0) agent->open(leader_address);
  }
  heartbeat_thread_ = std::thread([this] { heartbeats(); });
}

void AgentFleet::heartbeats() {
  const int buckets =
      std::max<int>(1, static_cast<int>(options_.heartbeat / std::chrono::milliseconds(kTick)));
  auto next = Clock::now();
  for (uint64_t step = 0; !stopping_; ++step) {
    next += kTick;
    // Each agent once per heartbeat, spread over it: a tick's share of the agents.
    for (size_t i = step % buckets; i < agents_.size(); i += static_cast<size_t>(buckets)) {
      agents_[i]->tick(Clock::now());
    }
    if (waiting_reopen_.load() > 0) refresh_leader(Clock::now());
    std::this_thread::sleep_until(next);
  }
}

void AgentFleet::refresh_leader(Clock::time_point now) {
  {
    std::lock_guard lock(mu_);
    if (now - leader_asked_ < kLeaderAskInterval) return;
    leader_asked_ = now;
  }
  for (const auto& server : servers_) {
    auto stub = nomad_lite::SchedulerService::NewStub(channel(server, -1000));
    grpc::ClientContext context;
    transport::add_call_credentials(&context);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    nomad_lite::GetClusterStatusRequest request;
    nomad_lite::GetClusterStatusResponse response;
    if (stub->GetClusterStatus(&context, request, &response).ok() &&
        !response.leader_address().empty()) {
      set_leader(response.leader_address());
      return;
    }
  }
}

void AgentFleet::set_leader(const std::string& address) {
  std::lock_guard lock(mu_);
  leader_ = address;
}

std::string AgentFleet::leader() const {
  std::lock_guard lock(mu_);
  return leader_;
}

int AgentFleet::connected() const { return connected_.load(); }

FleetCounters AgentFleet::counters() const {
  std::lock_guard lock(mu_);
  return {reports_.load(), acks_.load(), updates_.load(), restarts_.load(), first_stream_end_};
}

void AgentFleet::stream_done(const grpc::Status& status) {
  std::lock_guard lock(mu_);
  --live_streams_;
  if (!stopping_ && first_stream_end_.empty()) {
    first_stream_end_ = status.ok() ? "ended by the server (OK)" : describe(status);
  }
  streams_cv_.notify_all();
}

void AgentFleet::stop() {
  if (stopping_.exchange(true)) return;
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  for (auto& agent : agents_) agent->cancel();
  std::unique_lock lock(mu_);
  if (!streams_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return live_streams_ == 0; })) {
    // A stream that never ended still refers to its agent: leak them rather than free them.
    for (auto& agent : agents_) agent.release();
  }
}

}  // namespace nomad::cli
