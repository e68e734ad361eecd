#pragma once

// SchedulerService over gRPC: a thin adapter that translates to api::Service and back.
// Uses the callback API so that a submission waiting for its commit holds no thread.

#include <grpcpp/grpcpp.h>

#include "api/service.h"
#include "proto/nomad_lite.grpc.pb.h"

namespace nomad::api {

grpc::StatusCode to_grpc_code(Code code);

class GrpcSchedulerService final : public nomad_lite::SchedulerService::CallbackService {
 public:
  explicit GrpcSchedulerService(api::Service& service) : service_(service) {}

  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* context,
                                      const nomad_lite::SubmitJobRequest* request,
                                      nomad_lite::SubmitJobResponse* response) override;
  grpc::ServerUnaryReactor* GetJobStatus(grpc::CallbackServerContext* context,
                                         const nomad_lite::GetJobStatusRequest* request,
                                         nomad_lite::GetJobStatusResponse* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const nomad_lite::ListJobsRequest* request,
                                     nomad_lite::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* GetClusterStatus(grpc::CallbackServerContext* context,
                                             const nomad_lite::GetClusterStatusRequest* request,
                                             nomad_lite::GetClusterStatusResponse* response) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const nomad_lite::CancelJobRequest* request,
                                      nomad_lite::CancelJobResponse* response) override;

 private:
  api::Service& service_;  // qualified: the base class has a nested Service too
};

}  // namespace nomad::api
