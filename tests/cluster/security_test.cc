// A cluster started the way the README recommends (TLS and a token file from `nomad-lite tls
// init`), attacked from 127.0.0.1: calls without a token, with a wrong one and with one whose
// role is too low, on every gRPC method and REST endpoint; clients and nodes whose certificate
// comes from another CA; forged Raft messages; and start-up refusals of bad security files.

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster_harness.h"
#include "support/eventually.h"

namespace nomad::testing {
namespace {

using grpc::StatusCode;

struct Credentials {
  std::string ca, cert, key;  // files; cert "" for no client certificate
  std::string token;          // "" for none
};

// A channel of its own (no connection shared with other credentials).
std::shared_ptr<grpc::Channel> channel_to(const std::string& address, const Credentials& c) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(
      address, TestCluster::tls_credentials(c.ca, c.cert, c.key, c.token), args);
}

std::unique_ptr<grpc::ClientContext> context(std::chrono::milliseconds timeout = 5s) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

// Every SchedulerService method once, with what it answered.
std::map<std::string, grpc::Status> call_every_method(nomad_lite::SchedulerService::Stub& stub,
                                                      const std::string& job_id,
                                                      const std::string& cancel_id) {
  std::map<std::string, grpc::Status> out;
  {
    nomad_lite::SubmitJobRequest req;
    req.set_command("echo from-the-test");
    nomad_lite::SubmitJobResponse resp;
    out["SubmitJob"] = stub.SubmitJob(context().get(), req, &resp);
  }
  {
    nomad_lite::CancelJobRequest req;
    req.set_job_id(cancel_id);
    nomad_lite::CancelJobResponse resp;
    out["CancelJob"] = stub.CancelJob(context().get(), req, &resp);
  }
  {
    nomad_lite::GetJobStatusRequest req;
    req.set_job_id(job_id);
    nomad_lite::GetJobStatusResponse resp;
    out["GetJobStatus"] = stub.GetJobStatus(context().get(), req, &resp);
  }
  {
    nomad_lite::ListJobsResponse resp;
    out["ListJobs"] = stub.ListJobs(context().get(), {}, &resp);
  }
  {
    nomad_lite::GetClusterStatusResponse resp;
    out["GetClusterStatus"] = stub.GetClusterStatus(context().get(), {}, &resp);
  }
  {
    nomad_lite::WaitJobRequest req;
    req.set_job_id(job_id);
    req.set_timeout_ms(10);
    nomad_lite::WaitJobResponse resp;
    out["WaitJob"] = stub.WaitJob(context().get(), req, &resp);
  }
  {
    nomad_lite::JobLogsRequest req;
    req.set_job_id(job_id);
    auto ctx = context();
    auto reader = stub.StreamJobLogs(ctx.get(), req);
    nomad_lite::LogChunk chunk;
    while (reader->Read(&chunk)) {
    }
    out["StreamJobLogs"] = reader->Finish();
  }
  return out;
}

// A Raft stream carrying a heartbeat from a far higher term, as node `from`: accepted, it
// would depose the leader. `token` "" sends none. Returns how the stream ended.
grpc::Status send_forged_heartbeat(const std::shared_ptr<grpc::Channel>& channel, uint64_t from,
                                   uint64_t to, const std::string& token) {
  auto raft = nomad_lite::RaftService::NewStub(channel);
  auto ctx = context();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  nomad_lite::StreamClosed closed;
  auto writer = raft->Stream(ctx.get(), &closed);
  nomad_lite::RaftBatch batch;
  batch.set_from(from);
  auto* m = batch.add_messages();
  m->set_type(6);  // raft::MessageType::kHeartbeat
  m->set_from(from);
  m->set_to(to);
  m->set_term(1'000'000);
  for (int i = 0; i < 50 && writer->Write(batch); ++i) {
  }
  writer->WritesDone();
  return writer->Finish();
}

// The node-to-node calls, as an outsider would try them.
std::map<std::string, grpc::Status> call_peer_methods(const std::shared_ptr<grpc::Channel>& channel,
                                                      uint64_t claimed_from, uint64_t to) {
  std::map<std::string, grpc::Status> out;
  auto internal = nomad_lite::InternalService::NewStub(channel);
  {
    nomad_lite::WorkerReport report;
    report.set_node_id(claimed_from);
    nomad_lite::WorkerReportAck ack;
    out["Report"] = internal->Report(context().get(), report, &ack);
    auto ctx = context();
    auto writer = internal->ReportStream(ctx.get());
    for (int i = 0; i < 5 && writer->Write(report); ++i) {
    }
    writer->WritesDone();
    while (writer->Read(&ack)) {
    }
    out["ReportStream"] = writer->Finish();
  }
  {
    nomad_lite::JobLogsRequest req;
    req.set_job_id("x");
    auto ctx = context();
    auto reader = internal->StreamLogs(ctx.get(), req);
    nomad_lite::LogChunk chunk;
    while (reader->Read(&chunk)) {
    }
    out["StreamLogs"] = reader->Finish();
  }
  out["Raft.Stream"] = send_forged_heartbeat(channel, claimed_from, to, "");
  return out;
}

std::string describe(const std::map<std::string, grpc::Status>& answers) {
  std::string out;
  for (const auto& [method, s] : answers) {
    out += method + ": " + std::to_string(s.error_code()) + " " + s.error_message() + "\n";
  }
  return out;
}

class SecureCluster : public ::testing::Test {
 protected:
  void start(size_t nodes, std::vector<std::string> extra = {"--worker-slots", "0"},
             bool dashboards = false) {
    cluster_ = std::make_unique<TestCluster>(nodes, std::move(extra), dashboards);
    if (!cluster_->secure()) cluster_->enable_security(/*export_to_cli=*/false);
    cluster_->start_all();
    leader_ = cluster_->wait_for_leader();
    ASSERT_NE(leader_, 0u) << "no leader";
  }
  Credentials as(const std::string& token) const {
    const std::string& d = cluster_->pki_dir();
    return {d + "/ca.pem", d + "/client.pem", d + "/client-key.pem", token};
  }
  std::string file(const std::string& name) const { return cluster_->pki_dir() + "/" + name; }

  std::unique_ptr<TestCluster> cluster_;
  uint64_t leader_ = 0;
};

TEST_F(SecureCluster, EveryGrpcMethodRefusesMissingWrongAndTooLowTokens) {
  start(1);
  std::string address = cluster_->member(leader_).address();
  nomad_lite::Job job;
  ASSERT_TRUE(cluster_->submit(leader_, "echo a", &job, "key-a").ok());

  const std::vector<std::string> reads = {"GetJobStatus", "ListJobs", "GetClusterStatus", "WaitJob",
                                          "StreamJobLogs"};
  const std::vector<std::string> writes = {"SubmitJob", "CancelJob"};
  for (const std::string& token : {std::string(), std::string("not-a-token-of-this-cluster")}) {
    auto stub = nomad_lite::SchedulerService::NewStub(channel_to(address, as(token)));
    auto answers = call_every_method(*stub, job.id(), job.id());
    ASSERT_EQ(answers.size(), reads.size() + writes.size());
    for (const auto& [method, s] : answers) {
      EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED)
          << method << " with token '" << token << "': " << s.error_message();
    }
    EXPECT_NE(
        answers["SubmitJob"].error_message().find(token.empty() ? "requires a token" : "not valid"),
        std::string::npos)
        << describe(answers);
  }
  {
    auto stub =
        nomad_lite::SchedulerService::NewStub(channel_to(address, as(cluster_->token("read"))));
    auto answers = call_every_method(*stub, job.id(), job.id());
    for (const auto& m : reads) EXPECT_TRUE(answers[m].ok()) << m << ": " << describe(answers);
    for (const auto& m : writes) {
      EXPECT_EQ(answers[m].error_code(), StatusCode::PERMISSION_DENIED) << m;
      EXPECT_EQ(answers[m].error_message(),
                "the token's role (read) may not do this; it needs the submit role");
    }
  }
  for (const char* role : {"submit", "operator"}) {
    nomad_lite::Job victim;
    ASSERT_TRUE(cluster_->submit(leader_, "echo b", &victim, std::string("key-") + role).ok());
    auto stub =
        nomad_lite::SchedulerService::NewStub(channel_to(address, as(cluster_->token(role))));
    auto answers = call_every_method(*stub, job.id(), victim.id());
    for (const auto& [method, s] : answers)
      EXPECT_TRUE(s.ok()) << role << " " << method << ": " << s.error_message();
  }
  // The refused submissions created nothing: two jobs from the harness, two from the test's
  // good tokens.
  std::optional<std::vector<std::string>> ids;  // a loaded machine may miss one deadline
  EXPECT_TRUE(nomad::testing::eventually(
      [&] { return (ids = cluster_->job_ids(leader_)).has_value(); }, 20s, 100ms));
  EXPECT_EQ(ids.value_or(std::vector<std::string>{}).size(), 5u);
}

TEST_F(SecureCluster, NodeToNodeCallsRefuseClientsEvenWithTheOperatorToken) {
  start(3);
  uint64_t follower = leader_ == 1 ? 2 : 1;
  auto before = cluster_->status(follower);
  ASSERT_TRUE(before.has_value());

  auto channel = channel_to(cluster_->member(follower).address(), as(cluster_->token("operator")));
  auto answers = call_peer_methods(channel, leader_, follower);
  for (const auto& [method, s] : answers) {
    EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << method << ": " << s.error_message();
    // "only nodes of this cluster ..." or, where agents may call too (ReportStream),
    // "only nodes and agents of this cluster ...".
    EXPECT_NE(s.error_message().find("of this cluster may make this call"), std::string::npos)
        << method << ": " << s.error_message();
  }
  // A real node's certificate, claiming to be another node.
  uint64_t other = 6 - leader_ - follower;
  Credentials node{file("ca.pem"), file("node-" + std::to_string(other) + ".pem"),
                   file("node-" + std::to_string(other) + "-key.pem"), ""};
  answers =
      call_peer_methods(channel_to(cluster_->member(follower).address(), node), leader_, follower);
  EXPECT_EQ(answers["Raft.Stream"].error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(answers["Raft.Stream"].error_message(),
            "the certificate is node " + std::to_string(other) +
                "'s but the message claims to come from node " + std::to_string(leader_));
  EXPECT_EQ(answers["Report"].error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(answers["Report"].error_message(), "the certificate is node " + std::to_string(other) +
                                                   "'s but the report is for node " +
                                                   std::to_string(leader_));
  EXPECT_EQ(answers["ReportStream"].error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(answers["ReportStream"].error_message(), answers["Report"].error_message());

  // Nothing reached the core: same leader, no term of a million.
  auto after = cluster_->status(follower);
  ASSERT_TRUE(after.has_value());
  EXPECT_LT(after->term(), 1'000'000u);
  EXPECT_EQ(cluster_->wait_for_leader(), leader_);
}

// A node's real certificate cannot finish (or start) an attempt placed on another node: a
// report made only of such entries is refused, such entries in a report that also carries the
// sender's own are dropped, and the leader logs a warning naming the sender, job and node.
TEST_F(SecureCluster, ANodeCannotFinishAnotherNodesJob) {
  start(3, {"--worker-slots", "2"});
  nomad_lite::Job job;
  ASSERT_TRUE(cluster_->submit(leader_, "sleep 60", &job).ok());
  auto running = cluster_->wait_for_job(job.id(), [](const nomad_lite::Job& j) {
    return j.status() == nomad_lite::JOB_STATUS_RUNNING && j.node_id() != 0;
  });
  ASSERT_TRUE(running) << "the job never ran";
  const uint64_t owner = running->node_id();
  const uint64_t forger = owner == 1 ? 2 : 1;
  Credentials node{file("ca.pem"), file("node-" + std::to_string(forger) + ".pem"),
                   file("node-" + std::to_string(forger) + "-key.pem"), ""};
  auto internal =
      nomad_lite::InternalService::NewStub(channel_to(cluster_->member(leader_).address(), node));

  nomad_lite::WorkerReport forged;
  forged.set_node_id(forger);
  forged.set_slots(2);
  auto* f = forged.add_finished();
  f->set_job_id(job.id());
  f->set_attempt(running->attempt());
  f->set_node_id(owner);
  f->set_exit_code(0);
  f->set_stdout_tail("forged output");
  nomad_lite::WorkerReportAck ack;
  grpc::Status unary = internal->Report(context().get(), forged, &ack);
  EXPECT_EQ(unary.error_code(), StatusCode::PERMISSION_DENIED) << unary.error_message();
  EXPECT_NE(unary.error_message().find("reports only its own"), std::string::npos);
  {
    auto ctx = context();
    auto stream = internal->ReportStream(ctx.get());
    stream->Write(forged);
    stream->WritesDone();
    while (stream->Read(&ack)) {
    }
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << s.error_message();
  }
  // The same finish claimed in the sender's own name: the call is a report like any other,
  // the entry is dropped on the leader.
  f->set_node_id(forger);
  EXPECT_TRUE(internal->Report(context().get(), forged, &ack).ok());
  const std::string log = cluster_->member(leader_).log;
  EXPECT_TRUE(wait_until([&] {
    std::string text = read_text(log);
    return text.find("refused a report of node " + std::to_string(forger)) != std::string::npos &&
           text.find("node " + std::to_string(forger) + " reported job " + job.id() +
                     " attempt 1 finished (the entry names node " + std::to_string(forger) +
                     "), but that attempt was placed on node " + std::to_string(owner)) !=
               std::string::npos;
  })) << read_text(log);

  // Had a forged finish been proposed, it would be applied before this cancel.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  nomad_lite::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  nomad_lite::CancelJobResponse resp;
  ASSERT_TRUE(cluster_->member(leader_).stub->CancelJob(&ctx, cancel, &resp).ok());
  auto final = cluster_->wait_for_job(job.id(), [](const nomad_lite::Job& j) {
    return j.status() != nomad_lite::JOB_STATUS_RUNNING;
  });
  ASSERT_TRUE(final);
  EXPECT_EQ(final->status(), nomad_lite::JOB_STATUS_CANCELLED);
  EXPECT_EQ(final->stdout_tail().find("forged"), std::string::npos);
}

// A root server runs jobs as nobody by default, each in its own PID and mount namespace: a
// job reads none of the node's secrets (token file, TLS key, CA key), nor the environment of
// the server, and sees no process but its own.
TEST_F(SecureCluster, AJobOfTheDefaultUserReadsNoSecretAndSeesOnlyItsOwnProcesses) {
  if (geteuid() != 0) GTEST_SKIP() << "the default job user applies to a server run as root";
  start(1, {"--worker-slots", "2"});
  const std::string server_pid = std::to_string(cluster_->member(leader_).pid);
  std::string probe = "id -u; for f in " + file("tokens") + " " + file("node-1-key.pem") + " " +
                      file("ca-key.pem") + " /proc/" + server_pid +
                      "/environ; do if cat \"$f\" > /dev/null 2>&1; then echo \"read $f\"; "
                      "else echo denied; fi; done; ls /proc | grep '^[0-9]' | wc -l";
  nomad_lite::Job job;
  ASSERT_TRUE(cluster_->submit(leader_, probe, &job).ok());
  auto done = cluster_->wait_for_job(job.id(), [](const nomad_lite::Job& j) {
    return j.status() == nomad_lite::JOB_STATUS_COMPLETED ||
           j.status() == nomad_lite::JOB_STATUS_FAILED;
  });
  ASSERT_TRUE(done);
  std::istringstream out(done->stdout_tail());
  std::vector<std::string> lines;
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 6u) << done->stdout_tail() << done->stderr_tail();
  EXPECT_EQ(lines[0], "65534") << "not run as nobody";
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(lines[i], "denied") << done->stdout_tail();
  // The namespace's init, the shell and the pipeline: a handful, not the host's hundreds.
  EXPECT_LE(std::stoi(lines[5]), 6) << "processes outside the job are visible";
  EXPECT_NE(read_text(cluster_->member(leader_).log)
                .find("each job runs in its own PID and mount namespace"),
            std::string::npos);
}

// The job user (nobody by default) must not be able to read a key: a CA key kept next to the
// certificates, or a TLS key its group may read, stop the server with the chmod that fixes it.
TEST_F(SecureCluster, KeysTheJobUserCouldReadStopTheServer) {
  if (geteuid() != 0) GTEST_SKIP() << "the default job user applies to a server run as root";
  TestCluster c(1);
  if (!c.secure()) c.enable_security(false);
  std::string open = c.root() + "/open-pki";
  std::filesystem::create_directories(open);
  chmod(open.c_str(), 0755);
  for (const char* name : {"node-1.pem", "node-1-key.pem", "ca.pem", "ca-key.pem"}) {
    std::filesystem::copy_file(c.pki_dir() + "/" + name, open + "/" + name);
  }
  chmod((open + "/node-1-key.pem").c_str(), 0600);
  chmod((open + "/ca-key.pem").c_str(), 0644);
  auto server = [&] {
    return run_bounded(
        {NOMAD_LITE_BIN, "server", "--node-id", "1", "--port", std::to_string(free_port()),
         "--data-dir", c.root() + "/refused", "--tls-cert", open + "/node-1.pem", "--tls-key",
         open + "/node-1-key.pem", "--tls-ca", open + "/ca.pem"},
        10s);
  };
  RunResult r = server();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the CA key " + open +
                       "/ca-key.pem is readable by user nobody, who runs "
                       "the jobs: make it private (chmod 600 " +
                       open + "/ca-key.pem)"),
            std::string::npos)
      << r.err;
  chmod((open + "/ca-key.pem").c_str(), 0600);
  ASSERT_EQ(chown((open + "/node-1-key.pem").c_str(), 0, 65534), 0);
  chmod((open + "/node-1-key.pem").c_str(), 0640);
  r = server();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the TLS key (--tls-key) " + open +
                       "/node-1-key.pem is readable by user "
                       "nobody"),
            std::string::npos)
      << r.err;
}

TEST_F(SecureCluster, ClientsWithoutACertificateOfTheClustersCaCannotConnect) {
  start(1);
  std::string address = cluster_->member(leader_).address();
  std::string operator_token = cluster_->token("operator");

  auto other = cluster_->root() + "/other-pki";
  RunResult r = run_command({NOMAD_LITE_BIN, "tls", "init", other, "--nodes", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::map<std::string, std::shared_ptr<grpc::Channel>> channels = {
      {"plaintext", grpc::CreateChannel(address, grpc::InsecureChannelCredentials())},
      {"TLS without a client certificate",
       channel_to(address, {file("ca.pem"), "", "", operator_token})},
      {"a client certificate of another CA",
       channel_to(address, {file("ca.pem"), other + "/client.pem", other + "/client-key.pem",
                            operator_token})},
      {"another CA's view of the server",
       channel_to(address,
                  {other + "/ca.pem", file("client.pem"), file("client-key.pem"), operator_token})},
  };
  for (const auto& [what, channel] : channels) {
    auto stub = nomad_lite::SchedulerService::NewStub(channel);
    nomad_lite::SubmitJobRequest req;
    req.set_command("echo intruder");
    nomad_lite::SubmitJobResponse resp;
    grpc::Status s = stub->SubmitJob(context(2s).get(), req, &resp);
    EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << what << ": " << s.error_message();
  }
  // The CLI with the same mistakes: a clear error and a failing exit code.
  RunResult cli = run_bounded({NOMAD_LITE_BIN, "--addr", address, "--token", operator_token, "job",
                               "submit", "--", "echo", "intruder"},
                              30s);
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_NE(cli.err.find("If it has --tls-ca, give its CA with --ca-cert"), std::string::npos)
      << cli.err;
  // One line of ours, none of gRPC's own.
  EXPECT_EQ(std::count(cli.err.begin(), cli.err.end(), '\n'), 1) << cli.err;
  // The node logs the refused handshakes in its own format.
  EXPECT_NE(read_text(cluster_->member(leader_).log).find("warning [node 1] grpc ("),
            std::string::npos);
  // A loaded machine may miss one ListJobs deadline: ask until the leader answers.
  std::optional<std::vector<std::string>> ids;
  EXPECT_TRUE(nomad::testing::eventually(
      [&] { return (ids = cluster_->job_ids(leader_)).has_value(); }, 20s, 100ms))
      << "the leader never answered ListJobs";
  EXPECT_EQ(ids.value_or(std::vector<std::string>{"?"}).size(), 0u);

  // And with the right files, the CLI works.
  cli = run_bounded({NOMAD_LITE_BIN, "--addr", address, "--ca-cert", file("ca.pem"), "--cert",
                     file("client.pem"), "--key", file("client-key.pem"), "--token",
                     cluster_->token("submit"), "job", "submit", "--", "echo", "welcome"},
                    30s);
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(cluster_->job_ids(leader_).value_or(std::vector<std::string>{}).size(), 1u);
}

TEST_F(SecureCluster, ANodeWithAnotherCasCertificateCannotJoin) {
  cluster_ = std::make_unique<TestCluster>(3, std::vector<std::string>{"--worker-slots", "0"});
  if (!cluster_->secure()) cluster_->enable_security(false);
  // Node 3 has a complete PKI of its own: a valid-looking node 3 of another CA.
  std::string other = cluster_->root() + "/other-pki";
  RunResult r = run_command({NOMAD_LITE_BIN, "tls", "init", other, "--nodes", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string name : {"node-3.pem", "node-3-key.pem"}) {
    std::filesystem::copy_file(other + "/" + name, file(name),
                               std::filesystem::copy_options::overwrite_existing);
  }
  // Its own CA, so that it starts; the others' CA is file("ca.pem").
  std::vector<std::string> args = cluster_->server_args(3);
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--tls-ca") args[i + 1] = other + "/ca.pem";
  }
  cluster_->start(1);
  cluster_->start(2);
  pid_t intruder = fork();
  if (intruder == 0) {
    int log = open((cluster_->root() + "/intruder.log").c_str(), O_WRONLY | O_CREAT, 0644);
    dup2(log, 1);
    dup2(log, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } reaper{intruder};
  // Nodes 1 and 2 form the cluster; node 3 is never counted as alive, never gets an entry.
  uint64_t leader = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        auto s1 = cluster_->status(1);
        auto s2 = cluster_->status(2);
        if (!s1 || !s2 || s1->leader_id() == 0 || s1->leader_id() != s2->leader_id()) return false;
        leader = s1->leader_id();
        return true;
      },
      15s));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        cluster_->submit(leader, "echo " + std::to_string(i), nullptr, "k" + std::to_string(i))
            .ok());
  }
  // Observed over a few keepalive intervals (200 ms each): node 3 stays outside.
  auto until = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < until) {
    auto s = cluster_->status(leader);
    ASSERT_TRUE(s.has_value());
    for (const auto& n : s->nodes()) {
      if (n.id() != 3) continue;
      EXPECT_FALSE(n.alive()) << "node 3 reached the leader";
      EXPECT_EQ(n.match_index(), 0u);
    }
    std::this_thread::sleep_for(100ms);  // sampling interval of the observation
  }
  // Asked with its own CA's client certificate, node 3 knows no leader and no job.
  Credentials own{other + "/ca.pem", other + "/client.pem", other + "/client-key.pem",
                  cluster_->token("operator")};
  auto stub = nomad_lite::SchedulerService::NewStub(channel_to(cluster_->member(3).address(), own));
  nomad_lite::GetClusterStatusResponse status;
  ASSERT_TRUE(stub->GetClusterStatus(context().get(), {}, &status).ok());
  EXPECT_EQ(status.leader_id(), 0u);
  EXPECT_EQ(status.commit_index(), 0u);
}

TEST_F(SecureCluster, WithoutTlsNodesNeedTheOperatorTokenToTalkToEachOther) {
  // Tokens only, on loopback: the nodes still form a cluster with the file's operator token.
  std::string dir = (std::filesystem::temp_directory_path() / "nomad-tokens-XXXXXX").string();
  dir = mkdtemp(dir.data());
  std::string tokens = dir + "/tokens";
  {
    std::ofstream out(tokens);
    out << "operator operator-token-0123456789\nread read-token-0123456789\n";
  }
  chmod(tokens.c_str(), 0600);
  cluster_ = std::make_unique<TestCluster>(
      3, std::vector<std::string>{"--worker-slots", "0", "--token-file", tokens});
  ASSERT_FALSE(cluster_->secure()) << "this test is about clusters without TLS";
  // The harness's plain clients carry no token: status() fails, so use the CLI's view.
  for (uint64_t id : cluster_->ids()) cluster_->start(id);
  auto stub_with = [&](uint64_t id, const std::string& token) {
    auto channel =
        grpc::CreateChannel(cluster_->member(id).address(), grpc::InsecureChannelCredentials());
    return std::make_pair(channel, token);
  };
  auto cluster_status = [&](uint64_t id, const std::string& token,
                            nomad_lite::GetClusterStatusResponse* out) {
    auto [channel, t] = stub_with(id, token);
    auto stub = nomad_lite::SchedulerService::NewStub(channel);
    auto ctx = context(1s);
    ctx->set_wait_for_ready(true);
    if (!t.empty()) ctx->AddMetadata("authorization", "Bearer " + t);
    return stub->GetClusterStatus(ctx.get(), {}, out);
  };
  uint64_t leader = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        nomad_lite::GetClusterStatusResponse s;
        if (!cluster_status(1, "read-token-0123456789", &s).ok() || s.leader_id() == 0)
          return false;
        for (const auto& n : s.nodes()) {
          if (!n.alive()) return false;
        }
        leader = s.leader_id();
        return true;
      },
      15s))
      << "the nodes did not form a cluster with the operator token";
  nomad_lite::GetClusterStatusResponse s;
  EXPECT_EQ(cluster_status(1, "", &s).error_code(), StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(cluster_status(1, "read-token-0123456789", &s).ok());
  EXPECT_TRUE(s.security().tokens());
  EXPECT_FALSE(s.security().tls());

  uint64_t follower = leader == 1 ? 2 : 1;
  std::string address = cluster_->member(follower).address();
  // No token, and a read token, may not speak Raft.
  for (const auto& [token, code] : std::vector<std::pair<std::string, StatusCode>>{
           {"", StatusCode::UNAUTHENTICATED},
           {"read-token-0123456789", StatusCode::PERMISSION_DENIED}}) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    grpc::Status st = send_forged_heartbeat(channel, leader, follower, token);
    EXPECT_EQ(st.error_code(), code) << "token '" << token << "': " << st.error_message();
  }
  ASSERT_TRUE(cluster_status(follower, "read-token-0123456789", &s).ok());
  EXPECT_LT(s.term(), 1'000'000u);
  std::filesystem::remove_all(dir);
}

// --- the REST API over HTTPS ----------------------------------------------------------------

TEST_F(SecureCluster, EveryRestEndpointRefusesMissingWrongAndTooLowTokens) {
  // A server that answers before reading the whole request closes the connection; writing the
  // rest must not kill the test.
  signal(SIGPIPE, SIG_IGN);
  start(1, {"--worker-slots", "0"}, /*dashboards=*/true);
  nomad_lite::Job job;
  ASSERT_TRUE(cluster_->submit(leader_, "echo a", &job, "key-a").ok());

  httplib::SSLClient https("127.0.0.1", cluster_->member(leader_).dashboard_port);
  https.set_ca_cert_path(file("ca.pem").c_str());
  https.enable_server_certificate_verification(true);
  https.set_read_timeout(5, 0);

  auto get = [&](const std::string& path, const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    // The event stream never ends by itself: read its first bytes, then hang up.
    if (path == "/api/events") {
      int status = -1;
      https.Get(
          path, headers,
          [&](const httplib::Response& res) {
            status = res.status;
            return res.status == 200 ? false : true;
          },
          [](const char*, size_t) { return true; });
      return status;
    }
    auto res = https.Get(path, headers);
    return res ? res->status : -1;
  };
  auto post = [&](const std::string& path, const std::string& body, const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = https.Post(path, headers, body, "application/json");
    return res ? res->status : -1;
  };
  const std::vector<std::string> reads = {"/api/cluster", "/api/jobs", "/api/jobs/" + job.id(),
                                          "/api/jobs/" + job.id() + "/logs", "/api/events"};
  for (const std::string& token : {std::string(), std::string("not-a-token-of-this-cluster")}) {
    for (const auto& path : reads) EXPECT_EQ(get(path, token), 401) << path << " '" << token << "'";
    EXPECT_EQ(post("/api/jobs", R"({"command": "echo x"})", token), 401);
    EXPECT_EQ(post("/api/jobs/" + job.id() + "/cancel", "{}", token), 401);
  }
  std::string read = cluster_->token("read");
  for (const auto& path : reads) EXPECT_EQ(get(path, read), 200) << path;
  EXPECT_EQ(post("/api/jobs", R"({"command": "echo x"})", read), 403);
  EXPECT_EQ(post("/api/jobs/" + job.id() + "/cancel", "{}", read), 403);
  // Writes with the submit role.
  std::string submit = cluster_->token("submit");
  EXPECT_EQ(post("/api/jobs", R"({"command": "echo x"})", submit), 201);
  EXPECT_EQ(post("/api/jobs/" + job.id() + "/cancel", "{}", submit), 200);
  // The page and the health checks need no token; the 401 says how to authenticate.
  EXPECT_EQ(get("/", ""), 200);
  EXPECT_EQ(get("/health/live", ""), 200);
  auto res = https.Get("/api/jobs");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer realm=\"nomad-lite\"");
  auto doc = nlohmann::json::parse(res->body);
  EXPECT_NE(doc["error"].get<std::string>().find("requires a token"), std::string::npos);
  // /api/cluster tells the dashboard how the node is protected.
  httplib::Headers headers{{"Authorization", "Bearer " + read}};
  auto cluster = nlohmann::json::parse(https.Get("/api/cluster", headers)->body);
  EXPECT_EQ(cluster["security"],
            (nlohmann::json{{"tls", true}, {"tokens", true}, {"insecure", false}}));
  // Plain HTTP on the HTTPS port gets nowhere.
  httplib::Client plain("127.0.0.1", cluster_->member(leader_).dashboard_port);
  plain.set_read_timeout(2, 0);
  auto plain_res = plain.Get("/api/cluster", headers);
  EXPECT_TRUE(!plain_res || plain_res->status == 400);
}

// --- start-up checks ----------------------------------------------------------------------------

TEST_F(SecureCluster, BadSecurityFilesStopTheServerWithOneClearLine) {
  TestCluster c(2);
  if (!c.secure()) c.enable_security(false);
  std::string pki = c.pki_dir();
  auto server = [&](std::vector<std::string> more) {
    std::vector<std::string> args = {NOMAD_LITE_BIN, "server",
                                     "--node-id",    "1",
                                     "--port",       std::to_string(free_port()),
                                     "--data-dir",   c.root() + "/refused"};
    args.insert(args.end(), more.begin(), more.end());
    return run_bounded(args, 10s);
  };
  auto tls_of = [&](const std::string& cert, const std::string& key, const std::string& ca) {
    return std::vector<std::string>{"--tls-cert", cert, "--tls-key", key, "--tls-ca", ca};
  };
  // Node 2's certificate given to node 1.
  RunResult r = server(tls_of(pki + "/node-2.pem", pki + "/node-2-key.pem", pki + "/ca.pem"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("names node 2 but --node-id is 1"), std::string::npos) << r.err;
  // The client certificate as a node's.
  r = server(tls_of(pki + "/client.pem", pki + "/client-key.pem", pki + "/ca.pem"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("names no node"), std::string::npos) << r.err;
  // A key of another certificate.
  r = server(tls_of(pki + "/node-1.pem", pki + "/node-2-key.pem", pki + "/ca.pem"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tls-key"), std::string::npos) << r.err;
  // A CA that did not sign the certificate.
  std::string other = c.root() + "/other";
  ASSERT_EQ(run_command({NOMAD_LITE_BIN, "tls", "init", other, "--nodes", "1"}).exit_code, 0);
  r = server(tls_of(pki + "/node-1.pem", pki + "/node-1-key.pem", other + "/ca.pem"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not signed by the CA"), std::string::npos) << r.err;
  // A missing file.
  r = server(tls_of(pki + "/node-1.pem", pki + "/node-1-key.pem", pki + "/nope.pem"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tls-ca " + pki + "/nope.pem"), std::string::npos) << r.err;
  // A token file others may read.
  chmod((pki + "/tokens").c_str(), 0644);
  r = server({"--token-file", pki + "/tokens"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("run chmod 600"), std::string::npos) << r.err;
  // Without TLS, a cluster's token file needs an operator token for the nodes.
  std::string reads_only = c.root() + "/read-tokens";
  {
    std::ofstream out(reads_only);
    out << "read read-token-0123456789\n";
  }
  chmod(reads_only.c_str(), 0600);
  r = server({"--token-file", reads_only, "--peers", "2:127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has none; add a line 'operator TOKEN'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nomad::testing
