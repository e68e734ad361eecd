#pragma once

// SchedulerService over gRPC: a thin adapter that translates to api::Service and back.
// Uses the callback API so that a submission waiting for its commit holds no thread.

#include <grpcpp/grpcpp.h>

#include <memory>

#include "api/internal_forwarder.h"
#include "api/peer_gate.h"
#include "api/report_streams.h"
#include "api/service.h"
#include "proto/nomad_lite.grpc.pb.h"
#include "transport/decoded_call.h"

namespace nomad::api {

// The raw-call decoding the adapters share with the peer transport.
using transport::decode_then;
using transport::method_index;
using transport::raw_request_streaming;
using transport::RawRequestStream;
using transport::read_request;
using transport::UnaryCall;

grpc::StatusCode to_grpc_code(Code code);

// The longest status message the server sends (longer ones are cut): a status travels as
// HTTP/2 trailers, which gRPC clients accept up to 8 KiB by default, and a multi-MiB one once
// left a call unfinished on a client that stopped reading, holding Server::Shutdown forever.
inline constexpr size_t kMaxStatusMessageBytes = 1024;

// Every call uses the callback API but StreamJobLogs, which blocks on files and peers and so
// runs on gRPC's synchronous thread pool. Every call takes its request as bytes and decodes it
// here (transport/decoded_call.h): undecodable bytes get INVALID_ARGUMENT with a message.
using SchedulerBase = nomad_lite::SchedulerService::WithRawCallbackMethod_SubmitJob<
    nomad_lite::SchedulerService::WithRawCallbackMethod_GetJobStatus<
        nomad_lite::SchedulerService::WithRawCallbackMethod_ListJobs<
            nomad_lite::SchedulerService::WithRawCallbackMethod_GetClusterStatus<
                nomad_lite::SchedulerService::WithRawCallbackMethod_CancelJob<
                    nomad_lite::SchedulerService::WithRawCallbackMethod_WaitJob<
                        nomad_lite::SchedulerService::WithRawCallbackMethod_TransferLeadership<
                            nomad_lite::SchedulerService::WithRawCallbackMethod_DrainNode<
                                nomad_lite::SchedulerService::
                                    WithRawCallbackMethod_SetNodeEligibility<
                                        nomad_lite::SchedulerService::Service>>>>>>>>>;

class GrpcSchedulerService final : public SchedulerBase {
 public:
  explicit GrpcSchedulerService(api::Service& service) : service_(service) {
    grpc::Service::MarkMethodStreamed(
        method_index<nomad_lite::JobLogsRequest>("SchedulerService", "StreamJobLogs"),
        raw_request_streaming<nomad_lite::LogChunk>(
            [this](grpc::ServerContext* context, RawRequestStream<nomad_lite::LogChunk>* stream) {
              return stream_job_logs(context, stream);
            }));
    grpc::Service::MarkMethodStreamed(
        method_index<nomad_lite::SaveSnapshotRequest>("SchedulerService", "SaveSnapshot"),
        raw_request_streaming<nomad_lite::SnapshotChunk>(
            [this](grpc::ServerContext* context,
                   RawRequestStream<nomad_lite::SnapshotChunk>* stream) {
              return save_snapshot(context, stream);
            }));
    register_membership_methods();
    register_periodic_methods();
  }

  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override {
    return decode_then<nomad_lite::SubmitJobRequest, nomad_lite::SubmitJobResponse>(
        request, response, [this, context](auto* call) {
          submit_job(context, call, &call->request, &call->response);
        });
  }
  grpc::ServerUnaryReactor* GetJobStatus(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override {
    return decode_then<nomad_lite::GetJobStatusRequest, nomad_lite::GetJobStatusResponse>(
        request, response, [this, context](auto* call) {
          get_job_status(context, call, &call->request, &call->response);
        });
  }
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override {
    return decode_then<nomad_lite::ListJobsRequest, nomad_lite::ListJobsResponse>(
        request, response,
        [this, context](auto* call) { list_jobs(context, call, &call->request, &call->response); });
  }
  grpc::ServerUnaryReactor* GetClusterStatus(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override {
    return decode_then<nomad_lite::GetClusterStatusRequest, nomad_lite::GetClusterStatusResponse>(
        request, response, [this, context](auto* call) {
          get_cluster_status(context, call, &call->request, &call->response);
        });
  }
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override {
    return decode_then<nomad_lite::CancelJobRequest, nomad_lite::CancelJobResponse>(
        request, response, [this, context](auto* call) {
          cancel_job(context, call, &call->request, &call->response);
        });
  }
  grpc::ServerUnaryReactor* WaitJob(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override {
    return decode_then<nomad_lite::WaitJobRequest, nomad_lite::WaitJobResponse>(
        request, response,
        [this, context](auto* call) { wait_job(context, call, &call->request, &call->response); });
  }
  grpc::ServerUnaryReactor* TransferLeadership(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) override {
    return decode_then<nomad_lite::TransferLeadershipRequest,
                       nomad_lite::TransferLeadershipResponse>(
        request, response, [this, context](auto* call) {
          transfer_leadership(context, call, &call->request, &call->response);
        });
  }
  grpc::ServerUnaryReactor* DrainNode(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override {
    return decode_then<nomad_lite::DrainNodeRequest, nomad_lite::NodeSchedulingResponse>(
        request, response, [this, context](auto* call) {
          drain_node(context, call, &call->request, &call->response);
        });
  }
  grpc::ServerUnaryReactor* SetNodeEligibility(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) override {
    return decode_then<nomad_lite::SetNodeEligibilityRequest, nomad_lite::NodeSchedulingResponse>(
        request, response, [this, context](auto* call) {
          set_node_eligibility(context, call, &call->request, &call->response);
        });
  }

 private:
  // StreamJobLogs, its request taken as bytes (raw_request_streaming).
  grpc::Status stream_job_logs(grpc::ServerContext* context,
                               RawRequestStream<nomad_lite::LogChunk>* stream);
  // SaveSnapshot: blocks while the file is made and sent, in chunks.
  grpc::Status save_snapshot(grpc::ServerContext* context,
                             RawRequestStream<nomad_lite::SnapshotChunk>* stream);
  void submit_job(grpc::CallbackServerContext* context, UnaryCall* reactor,
                  const nomad_lite::SubmitJobRequest* request,
                  nomad_lite::SubmitJobResponse* response);
  void get_job_status(grpc::CallbackServerContext* context, UnaryCall* reactor,
                      const nomad_lite::GetJobStatusRequest* request,
                      nomad_lite::GetJobStatusResponse* response);
  void list_jobs(grpc::CallbackServerContext* context, UnaryCall* reactor,
                 const nomad_lite::ListJobsRequest* request,
                 nomad_lite::ListJobsResponse* response);
  void get_cluster_status(grpc::CallbackServerContext* context, UnaryCall* reactor,
                          const nomad_lite::GetClusterStatusRequest* request,
                          nomad_lite::GetClusterStatusResponse* response);
  void cancel_job(grpc::CallbackServerContext* context, UnaryCall* reactor,
                  const nomad_lite::CancelJobRequest* request,
                  nomad_lite::CancelJobResponse* response);
  void wait_job(grpc::CallbackServerContext* context, UnaryCall* reactor,
                const nomad_lite::WaitJobRequest* request, nomad_lite::WaitJobResponse* response);
  void transfer_leadership(grpc::CallbackServerContext* context, UnaryCall* reactor,
                           const nomad_lite::TransferLeadershipRequest* request,
                           nomad_lite::TransferLeadershipResponse* response);
  // Operator role: they change where the cluster runs jobs.
  void drain_node(grpc::CallbackServerContext* context, UnaryCall* reactor,
                  const nomad_lite::DrainNodeRequest* request,
                  nomad_lite::NodeSchedulingResponse* response);
  void set_node_eligibility(grpc::CallbackServerContext* context, UnaryCall* reactor,
                            const nomad_lite::SetNodeEligibilityRequest* request,
                            nomad_lite::NodeSchedulingResponse* response);
  // ListMembers, AddServer, RemoveServer (api/grpc_members.cc).
  void register_membership_methods();
  // CreatePeriodicJob, GetPeriodicJob, ListPeriodicJobs, ControlPeriodicJob (api/grpc_periodic.cc).
  void register_periodic_methods();

  // Whether the call's token may do what needs `role` (see api::Service::authorize).
  Error authorize(const grpc::ServerContextBase& context, Role role) const;
  // Whether the call's token may do what needs `role` and its request is within the size a
  // client request may have (RESOURCE_EXHAUSTED otherwise).
  Error admit(const grpc::ServerContextBase& context, Role role,
              const google::protobuf::Message& request) const;
  // Finishes the call with UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED when it
  // may not go on (see admit).
  bool refused(grpc::CallbackServerContext* context, UnaryCall* reactor, Role role,
               const google::protobuf::Message& request) const;

  api::Service& service_;  // qualified: the base class has a nested Service too
};

// Node-to-node calls that are not Raft: worker reports to the leader, output for other nodes.
// Report only queues the report for the node loop: it runs on gRPC's own threads (the callback
// API), without the hand-off to a synchronous-server thread.
// Every call takes its requests as bytes, as SchedulerService's do.
using InternalBase = nomad_lite::InternalService::WithRawCallbackMethod_Report<
    nomad_lite::InternalService::WithRawCallbackMethod_ReportStream<
        nomad_lite::InternalService::WithRawCallbackMethod_AgentStream<
            nomad_lite::InternalService::Service>>>;

class AgentRegistrar;  // api/agents.h
class AgentStreams;    // api/agent_streams.h

class GrpcInternalService final : public InternalBase {
 public:
  // Only other nodes may call (see PeerGate). Reports go to `reports` (the node loop).
  GrpcInternalService(api::Service& service, ReportSink reports, const PeerGate& gate)
      : service_(service),
        reports_(std::move(reports)),
        gate_(gate),
        report_streams_(reports_, gate) {
    grpc::Service::MarkMethodStreamed(
        method_index<nomad_lite::JobLogsRequest>("InternalService", "StreamLogs"),
        raw_request_streaming<nomad_lite::LogChunk>(
            [this](grpc::ServerContext* context, RawRequestStream<nomad_lite::LogChunk>* stream) {
              return stream_logs(context, stream);
            }));
    register_join();
    register_agents();
  }
  ~GrpcInternalService() override;

  // Ends the open report streams (before the server's Shutdown, which they would hold up).
  void stop();

  // Worker-only agents: RegisterAgent and AgentStream are served once these are given (before
  // the server starts); until then they answer UNAVAILABLE.
  void attach_agents(AgentRegistrar* registrar, AgentStreams* streams) {
    agent_registrar_ = registrar;
    agent_streams_ = streams;
  }
  grpc::ServerWriteReactor<grpc::ByteBuffer>* AgentStream(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request) override;

  grpc::ServerUnaryReactor* Report(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ReportStream(
      grpc::CallbackServerContext* context) override {
    return report_streams_.open(context);
  }

 private:
  // StreamLogs, its request taken as bytes (raw_request_streaming).
  grpc::Status stream_logs(grpc::ServerContext* context,
                           RawRequestStream<nomad_lite::LogChunk>* stream);

  // Join (api/grpc_members.cc): a follower forwards it to the leader.
  void register_join();
  // RegisterAgent (api/grpc_agents.cc): a follower forwards it to the leader.
  void register_agents();

  api::Service& service_;
  ReportSink reports_;
  const PeerGate& gate_;
  ReportStreams report_streams_;
  AgentRegistrar* agent_registrar_ = nullptr;
  AgentStreams* agent_streams_ = nullptr;
  InternalForwarder leader_forwarder_;  // Join and RegisterAgent that reached a follower
};

}  // namespace nomad::api
