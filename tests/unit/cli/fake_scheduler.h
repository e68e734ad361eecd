#pragma once

// An in-process SchedulerService on 127.0.0.1 for client tests: it can play a follower that
// redirects writes to a leader, a node that knows no leader yet, or the leader itself.

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
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
  ~FakeScheduler() override { server_->Shutdown(); }

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
    std::lock_guard lock(mu_);
    nomad_lite::Job job;
    job.set_id(id);
    job.set_command(command);
    job.set_status(nomad_lite::JOB_STATUS_PENDING);
    jobs_.push_back(job);
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
    submissions_.push_back(*request);
    response->mutable_job()->set_id("job-" + std::to_string(submissions_.size()));
    response->mutable_job()->set_command(request->command());
    response->mutable_job()->set_status(nomad_lite::JOB_STATUS_PENDING);
    return grpc::Status::OK;
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
