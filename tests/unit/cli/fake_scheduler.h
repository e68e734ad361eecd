#pragma once

// An in-process SchedulerService on 127.0.0.1 for client tests: it can play a follower that
// redirects writes to a leader, a node that knows no leader yet, or the leader itself. Jobs
// it is given or accepts are kept; WaitJob and StreamJobLogs follow scripts the test sets.

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proto/nomad_lite.grpc.pb.h"

namespace nomad::cli::testing {

class FakeScheduler final : public nomad_lite::SchedulerService::Service {
 public:
  FakeScheduler() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeScheduler() override {
    {
      std::lock_guard lock(mu_);
      shutting_down_ = true;
    }
    changed_.notify_all();
    server_->Shutdown();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Writes are answered FAILED_PRECONDITION naming this leader address (empty: accepted).
  void redirect_writes_to(const std::string& leader) {
    std::lock_guard lock(mu_);
    leader_ = leader;
  }
  // The next `n` calls of any kind fail with `code` ("no leader yet" by default).
  void fail_next(int n, grpc::StatusCode code = grpc::StatusCode::UNAVAILABLE) {
    failure_code_ = code;
    failures_ = n;
  }
  // ListJobs pages hold at most this many jobs.
  void set_page_size(size_t n) { page_size_ = n; }
  void add_job(const std::string& id, const std::string& command) {
    nomad_lite::Job job;
    job.set_id(id);
    job.set_command(command);
    job.set_status(nomad_lite::JOB_STATUS_PENDING);
    set_job(job);
  }
  // Adds the job, or replaces the one with its id; a WaitJob waiting for it wakes up.
  void set_job(const nomad_lite::Job& job) {
    {
      std::lock_guard lock(mu_);
      auto it = std::find_if(jobs_.begin(), jobs_.end(),
                             [&](const nomad_lite::Job& j) { return j.id() == job.id(); });
      if (it == jobs_.end()) {
        jobs_.push_back(job);
      } else {
        *it = job;
      }
    }
    changed_.notify_all();
  }
  // Each accepted job ("job-N", acknowledged as pending) is stored after `finish` changed
  // it: a test can have every job completed at once, as a worker would later.
  void on_submit(std::function<void(nomad_lite::Job*)> finish) {
    std::lock_guard lock(mu_);
    on_submit_ = std::move(finish);
  }
  // The next `n` WaitJob calls answer done = false at once, whatever the job's status.
  void wait_not_done(int n) { wait_not_done_ = n; }
  // The first WaitJob call for `final.id()` that is not answered done = false makes the job
  // `final` and answers done = true. Otherwise WaitJob answers done = true for a final job,
  // and for any other waits (up to its timeout_ms, at most 5 s) for it to become final.
  void finish_on_wait(const nomad_lite::Job& final) {
    std::lock_guard lock(mu_);
    finish_on_wait_[final.id()] = final;
  }
  std::vector<nomad_lite::WaitJobRequest> wait_requests() {
    std::lock_guard lock(mu_);
    return wait_requests_;
  }

  // StreamJobLogs sends these chunks, all of them (it ignores request.offset, as a sloppy
  // server might, so that the client's own de-duplication shows).
  void set_logs(std::vector<nomad_lite::LogChunk> chunks) {
    std::lock_guard lock(mu_);
    logs_ = std::move(chunks);
  }
  // The next stream ends with UNAVAILABLE after sending `n` chunks.
  void break_logs_after(int n) { break_logs_after_ = n; }
  std::vector<nomad_lite::JobLogsRequest> logs_requests() {
    std::lock_guard lock(mu_);
    return logs_requests_;
  }

  // ListPeriodicJobs answers these.
  void add_periodic(const nomad_lite::PeriodicJob& periodic) {
    std::lock_guard lock(mu_);
    periodic_.push_back(periodic);
  }

  std::vector<nomad_lite::SubmitJobRequest> submissions() {
    std::lock_guard lock(mu_);
    return submissions_;
  }
  int calls() const { return calls_; }
  int redirected() const { return redirected_; }

  grpc::Status SubmitJob(grpc::ServerContext* context, const nomad_lite::SubmitJobRequest* request,
                         nomad_lite::SubmitJobResponse* response) override {
    if (grpc::Status s = refuse(context, true); !s.ok()) return s;
    std::lock_guard lock(mu_);
    for (const auto& id : request->after()) {  // as api::Service: only existing jobs
      if (find(id) == jobs_.end()) {
        return grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            "after: no job '" + id + "' (a job can wait only for jobs submitted before it)");
      }
    }
    submissions_.push_back(*request);
    nomad_lite::Job* job = response->mutable_job();
    job->set_id("job-" + std::to_string(submissions_.size()));
    job->set_command(request->command());
    job->set_status(nomad_lite::JOB_STATUS_PENDING);
    job->set_priority(request->priority());
    nomad_lite::Job stored = *job;
    if (on_submit_) on_submit_(&stored);
    jobs_.push_back(stored);
    return grpc::Status::OK;
  }

  grpc::Status ListPeriodicJobs(grpc::ServerContext* context,
                                const nomad_lite::ListPeriodicJobsRequest* /*request*/,
                                nomad_lite::ListPeriodicJobsResponse* response) override {
    if (grpc::Status s = refuse(context, false); !s.ok()) return s;
    std::lock_guard lock(mu_);
    for (const auto& p : periodic_) *response->add_periodic()->mutable_periodic() = p;
    return grpc::Status::OK;
  }

  grpc::Status WaitJob(grpc::ServerContext* context, const nomad_lite::WaitJobRequest* request,
                       nomad_lite::WaitJobResponse* response) override {
    if (grpc::Status s = refuse(context, false); !s.ok()) return s;
    std::unique_lock lock(mu_);
    wait_requests_.push_back(*request);
    auto job = find(request->job_id());
    if (job == jobs_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "job '" + request->job_id() + "' not found");
    }
    if (wait_not_done_.fetch_sub(1) > 0) {
      *response->mutable_job() = *job;
      response->set_done(false);
      return grpc::Status::OK;
    }
    if (auto it = finish_on_wait_.find(request->job_id()); it != finish_on_wait_.end()) {
      *job = it->second;
      finish_on_wait_.erase(it);
    }
    auto limit = std::chrono::milliseconds(std::min<uint64_t>(request->timeout_ms(), 5000));
    std::string id = request->job_id();
    changed_.wait_for(lock, limit, [&] {
      auto j = find(id);
      return shutting_down_ || j == jobs_.end() || final(*j);
    });
    job = find(id);
    if (job == jobs_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "job removed");
    *response->mutable_job() = *job;
    response->set_done(final(*job));
    return grpc::Status::OK;
  }

  grpc::Status StreamJobLogs(grpc::ServerContext* context,
                             const nomad_lite::JobLogsRequest* request,
                             grpc::ServerWriter<nomad_lite::LogChunk>* writer) override {
    if (grpc::Status s = refuse(context, false); !s.ok()) return s;
    std::vector<nomad_lite::LogChunk> chunks;
    {
      std::lock_guard lock(mu_);
      logs_requests_.push_back(*request);
      if (find(request->job_id()) == jobs_.end()) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            "job '" + request->job_id() + "' not found");
      }
      chunks = logs_;
    }
    int break_after = break_logs_after_.exchange(-1);
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (break_after >= 0 && static_cast<int>(i) == break_after) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the node went away");
      }
      writer->Write(chunks[i]);
    }
    return grpc::Status::OK;
  }

  std::vector<nomad_lite::Job> jobs() {
    std::lock_guard lock(mu_);
    return jobs_;
  }

  grpc::Status GetJobStatus(grpc::ServerContext* context,
                            const nomad_lite::GetJobStatusRequest* request,
                            nomad_lite::GetJobStatusResponse* response) override {
    if (grpc::Status s = refuse(context, false); !s.ok()) return s;
    std::lock_guard lock(mu_);
    for (const auto& job : jobs_) {
      if (job.id() == request->job_id()) {
        *response->mutable_job() = job;
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "job '" + request->job_id() + "' not found");
  }

  grpc::Status CancelJob(grpc::ServerContext* context, const nomad_lite::CancelJobRequest* request,
                         nomad_lite::CancelJobResponse* response) override {
    if (grpc::Status s = refuse(context, true); !s.ok()) return s;
    std::lock_guard lock(mu_);
    for (auto& job : jobs_) {
      if (job.id() == request->job_id()) {
        job.set_status(nomad_lite::JOB_STATUS_CANCELLED);
        *response->mutable_job() = job;
        changed_.notify_all();
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "job '" + request->job_id() + "' not found");
  }

  grpc::Status ListJobs(grpc::ServerContext* context, const nomad_lite::ListJobsRequest* request,
                        nomad_lite::ListJobsResponse* response) override {
    if (grpc::Status s = refuse(context, false); !s.ok()) return s;
    std::lock_guard lock(mu_);
    size_t start = request->page_token().empty() ? 0 : std::stoul(request->page_token());
    size_t page =
        request->limit() == 0 ? page_size_ : std::min<size_t>(request->limit(), page_size_);
    size_t end = std::min(jobs_.size(), start + page);
    for (size_t i = start; i < end; ++i) *response->add_jobs() = jobs_[i];
    if (end < jobs_.size()) response->set_next_page_token(std::to_string(end));
    response->set_total(jobs_.size());
    return grpc::Status::OK;
  }

  grpc::Status GetClusterStatus(grpc::ServerContext* context,
                                const nomad_lite::GetClusterStatusRequest*,
                                nomad_lite::GetClusterStatusResponse* response) override {
    if (grpc::Status s = refuse(context, false); !s.ok()) return s;
    response->set_node_id(1);
    response->set_role("leader");
    return grpc::Status::OK;
  }

 private:
  static bool final(const nomad_lite::Job& job) {
    return job.status() == nomad_lite::JOB_STATUS_COMPLETED ||
           job.status() == nomad_lite::JOB_STATUS_FAILED ||
           job.status() == nomad_lite::JOB_STATUS_CANCELLED;
  }
  // MUST hold mu_.
  std::vector<nomad_lite::Job>::iterator find(const std::string& id) {
    return std::find_if(jobs_.begin(), jobs_.end(),
                        [&](const nomad_lite::Job& j) { return j.id() == id; });
  }

  grpc::Status refuse(grpc::ServerContext* context, bool write) {
    ++calls_;
    if (failures_.fetch_sub(1) > 0) {
      return grpc::Status(failure_code_, failure_code_ == grpc::StatusCode::UNAVAILABLE
                                             ? "no leader yet"
                                             : "injected failure");
    }
    std::lock_guard lock(mu_);
    if (write && !leader_.empty()) {
      ++redirected_;
      context->AddTrailingMetadata("leader-id", "2");
      context->AddTrailingMetadata("leader-addr", leader_);
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "not the leader");
    }
    return grpc::Status::OK;
  }

  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::string leader_;
  std::vector<nomad_lite::SubmitJobRequest> submissions_;
  std::vector<nomad_lite::Job> jobs_;
  std::vector<nomad_lite::PeriodicJob> periodic_;
  std::condition_variable changed_;  // jobs_ changed, or the server shuts down
  bool shutting_down_ = false;
  std::function<void(nomad_lite::Job*)> on_submit_;
  std::map<std::string, nomad_lite::Job> finish_on_wait_;
  std::vector<nomad_lite::WaitJobRequest> wait_requests_;
  std::vector<nomad_lite::LogChunk> logs_;
  std::vector<nomad_lite::JobLogsRequest> logs_requests_;
  std::atomic<int> wait_not_done_{0};
  std::atomic<int> break_logs_after_{-1};
  size_t page_size_ = 100;
  std::atomic<int> failures_{0};
  std::atomic<grpc::StatusCode> failure_code_{grpc::StatusCode::UNAVAILABLE};
  std::atomic<int> calls_{0};
  std::atomic<int> redirected_{0};
};

// An address nothing listens on: a port that was free a moment ago.
inline std::string closed_address() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

}  // namespace nomad::cli::testing
