#pragma once

// Real nomad-lite server processes on 127.0.0.1 for cluster tests: free ports, a temp data
// directory per node, start / SIGKILL / restart, and a gRPC client per node. Every wait is a
// poll for a condition with a deadline.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proto/nomad_lite.grpc.pb.h"

namespace nomad::testing {

using namespace std::chrono_literals;

// A port the kernel considers free right now (bind to port 0 and read it back).
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// Polls `condition` every 20 ms until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);  // polling interval, not synchronisation
  }
  return condition();
}

// Runs a command to completion; returns its exit code and what it printed.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline RunResult run_command(const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env = {}) {
  std::string dir = (std::filesystem::temp_directory_path() / "nomad-run-XXXXXX").string();
  dir = mkdtemp(dir.data());
  std::string out_path = dir + "/out", err_path = dir + "/err";
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  RunResult r;
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& path) {
    std::string data;
    FILE* f = fopen(path.c_str(), "r");
    char buf[4096];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, n);
    if (f) fclose(f);
    return data;
  };
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::filesystem::remove_all(dir);
  return r;
}

class TestCluster {
 public:
  struct Member {
    uint64_t id = 0;
    int port = 0;
    pid_t pid = -1;
    std::string data_dir;
    std::string log;
    std::unique_ptr<nomad_lite::SchedulerService::Stub> stub;
    std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  };

  // `extra_args` are added to every server's command line.
  explicit TestCluster(size_t nodes, std::vector<std::string> extra_args = {})
      : extra_args_(std::move(extra_args)) {
    root_ = (std::filesystem::temp_directory_path() / "nomad-cluster-XXXXXX").string();
    root_ = mkdtemp(root_.data());
    for (uint64_t id = 1; id <= nodes; ++id) {
      Member m;
      m.id = id;
      m.port = free_port();
      m.data_dir = root_ + "/node-" + std::to_string(id);
      m.log = root_ + "/node-" + std::to_string(id) + ".log";
      members_[id] = std::move(m);
    }
  }

  ~TestCluster() {
    for (auto& [id, m] : members_) kill(id, SIGKILL);
    std::error_code ec;
    if (!getenv("NOMAD_KEEP_TEST_DIRS")) std::filesystem::remove_all(root_, ec);
  }

  void start_all() {
    for (auto& [id, m] : members_) start(id);
  }

  std::vector<std::string> server_args(uint64_t id) const {
    const Member& m = members_.at(id);
    std::string peers;
    for (const auto& [other, o] : members_) {
      if (other == id) continue;
      peers += (peers.empty() ? "" : ",") + std::to_string(other) + ":" + o.address();
    }
    std::vector<std::string> args = {NOMAD_LITE_BIN, "server", "--node-id", std::to_string(id),
                                     "--port", std::to_string(m.port), "--peers", peers,
                                     "--data-dir", m.data_dir, "--worker-slots", "0"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    return args;
  }

  void start(uint64_t id) {
    Member& m = members_.at(id);
    // A fresh channel per incarnation: one that saw the old process die may keep failing.
    grpc::ChannelArguments channel_args;
    channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    channel_args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    channel_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    m.stub = nomad_lite::SchedulerService::NewStub(grpc::CreateCustomChannel(
        m.address(), grpc::InsecureChannelCredentials(), channel_args));
    auto args = server_args(id);
    pid_t pid = fork();
    if (pid == 0) {
      int log = open(m.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    m.pid = pid;
  }

  // Sends `signal` and reaps the process.
  void kill(uint64_t id, int signal) {
    Member& m = members_.at(id);
    if (m.pid <= 0) return;
    ::kill(m.pid, signal);
    int status = 0;
    waitpid(m.pid, &status, 0);
    m.pid = -1;
  }

  bool running(uint64_t id) const { return members_.at(id).pid > 0; }

  std::optional<nomad_lite::GetClusterStatusResponse> status(uint64_t id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    // Wait for the connection rather than fail fast: polling with fail-fast calls cancels the
    // connection attempt each time ("tcp handshaker shutdown") and never gets through.
    ctx.set_wait_for_ready(true);
    nomad_lite::GetClusterStatusResponse r;
    if (!members_.at(id).stub->GetClusterStatus(&ctx, {}, &r).ok()) return std::nullopt;
    return r;
  }

  // The leader every running node agrees on, or 0.
  uint64_t agreed_leader() {
    uint64_t leader = 0;
    for (auto& [id, m] : members_) {
      if (m.pid <= 0) continue;
      auto s = status(id);
      if (!s || s->leader_id() == 0) return 0;
      if (leader != 0 && s->leader_id() != leader) return 0;
      leader = s->leader_id();
    }
    return leader;
  }

  // Waits until the running nodes agree on a leader other than `not_this` (a node just
  // killed, which survivors may still name for an election timeout).
  uint64_t wait_for_leader(std::chrono::milliseconds timeout = 15s, uint64_t not_this = 0) {
    uint64_t leader = 0;
    wait_until([&] {
      leader = agreed_leader();
      return leader != 0 && leader != not_this;
    }, timeout);
    return leader == not_this ? 0 : leader;
  }

  grpc::Status submit(uint64_t id, const std::string& command, nomad_lite::Job* job,
                      const std::string& idempotency_key = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    nomad_lite::SubmitJobRequest req;
    req.set_command(command);
    req.set_idempotency_key(idempotency_key);
    nomad_lite::SubmitJobResponse resp;
    grpc::Status s = members_.at(id).stub->SubmitJob(&ctx, req, &resp);
    if (job) *job = resp.job();
    return s;
  }

  // Every job id node `id` lists (all pages).
  std::optional<std::vector<std::string>> job_ids(uint64_t id) {
    std::vector<std::string> ids;
    std::string token;
    do {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 2s);
      ctx.set_wait_for_ready(true);
      nomad_lite::ListJobsRequest req;
      req.set_limit(1000);
      req.set_page_token(token);
      nomad_lite::ListJobsResponse resp;
      if (!members_.at(id).stub->ListJobs(&ctx, req, &resp).ok()) return std::nullopt;
      for (const auto& j : resp.jobs()) ids.push_back(j.id());
      token = resp.next_page_token();
    } while (!token.empty());
    return ids;
  }

  Member& member(uint64_t id) { return members_.at(id); }
  const std::string& root() const { return root_; }
  std::vector<uint64_t> ids() const {
    std::vector<uint64_t> out;
    for (const auto& [id, m] : members_) out.push_back(id);
    return out;
  }

 private:
  std::vector<std::string> extra_args_;
  std::string root_;
  std::map<uint64_t, Member> members_;
};

}  // namespace nomad::testing
