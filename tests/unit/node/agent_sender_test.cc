// With TLS an agent reports only for the id its certificate registered
// (api::check_agent_sender), and its reports' entries must name that id
// (api::check_report_sender, as a node's).

#include <gtest/gtest.h>

#include "api/report_streams.h"

namespace nomad::api {
namespace {

ReportSink sink_with(uint64_t id, const std::string& certificate) {
  ReportSink sink;
  sink.agent_certified = [id, certificate](uint64_t asked, const std::string& cert) {
    return asked == id && cert == certificate;
  };
  return sink;
}

TEST(AgentSender, OnlyTheCertificateThatRegisteredTheIdMayReportForIt) {
  ReportSink sink = sink_with(101, "agent-1");
  EXPECT_TRUE(check_agent_sender(sink, "agent-1", 101).ok());
  grpc::Status other = check_agent_sender(sink, "agent-2", 101);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(other.error_message().find("agent-2"), std::string::npos);
  EXPECT_EQ(check_agent_sender(sink, "agent-1", 102).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST(AgentSender, NoAgentIsCertifiedWithoutAChecker) {
  EXPECT_EQ(check_agent_sender(ReportSink{}, "agent-1", 101).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST(AgentSender, AnAgentsEntriesMustNameItself) {
  nomad_lite::WorkerReport report;
  report.set_node_id(101);
  auto* f = report.add_finished();
  f->set_job_id("j");
  f->set_node_id(2);  // a server's attempt
  EXPECT_EQ(check_report_sender(101, report).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  f->set_node_id(101);
  EXPECT_TRUE(check_report_sender(101, report).ok());
}

}  // namespace
}  // namespace nomad::api
