#pragma once

// Real nomad-lite server processes on 127.0.0.1 for cluster tests: free ports, a temp data
// directory per node, start / SIGKILL / restart, and a gRPC client per node. Every wait is a
// poll for a condition with a deadline.

#include <dirent.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "proto/nomad_lite.grpc.pb.h"
#include "support/eventually.h"
#include "worker/cgroup.h"

namespace nomad::testing {

using namespace std::chrono_literals;

// A port that is free right now, below the kernel's ephemeral range (32768 and up): a port
// the kernel hands out for port 0 may meanwhile become the local end of some outgoing
// connection, of this or a concurrently running test, before the server binds it.
inline int free_port() {
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  static std::set<int> handed_out;  // never twice in one process: it may not be bound yet
  std::uniform_int_distribution<int> pick(20000, 32000);
  while (true) {
    int port = pick(rng);
    if (!handed_out.insert(port).second) continue;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (free) return port;
  }
}

// Polls `condition` every 20 ms until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = 10s) {
  return nomad::testing::eventually(condition, timeout, 20ms);
}

// Runs a command to completion; returns its exit code and what it printed.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// The whole file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::string text;
  FILE* f = fopen(path.c_str(), "r");
  char buf[4096];
  size_t n;
  while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  if (f) fclose(f);
  return text;
}

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
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  std::filesystem::remove_all(dir);
  return r;
}

// Runs a command like run_command, but gives up (SIGKILL, exit code -1) after `timeout`.
RunResult run_bounded(const std::vector<std::string>& args, std::chrono::milliseconds timeout);

class TestCluster {
 public:
  struct Member {
    uint64_t id = 0;
    int port = 0;
    int dashboard_port = 0;  // given with --dashboard-port when the cluster has dashboards
    pid_t pid = -1;
    std::string data_dir;
    std::string log;
    std::unique_ptr<nomad_lite::SchedulerService::Stub> stub;
    std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  };

  // `extra_args` are added to every server's command line; with `dashboards`, every node
  // serves the REST API on its own dashboard_port.
  explicit TestCluster(size_t nodes, std::vector<std::string> extra_args = {},
                       bool dashboards = false)
      : extra_args_(std::move(extra_args)), dashboards_(dashboards) {
    root_ = (std::filesystem::temp_directory_path() / "nomad-cluster-XXXXXX").string();
    root_ = mkdtemp(root_.data());
    // Searchable, not listable, as a server keeps its data dir: jobs run as nobody by default
    // and reach their work directories (and the tests' own directories) below it.
    chmod(root_.c_str(), 0711);
    for (uint64_t id = 1; id <= nodes; ++id) {
      Member m;
      m.id = id;
      m.port = free_port();
      m.dashboard_port = free_port();
      m.data_dir = root_ + "/node-" + std::to_string(id);
      m.log = root_ + "/node-" + std::to_string(id) + ".log";
      members_[id] = std::move(m);
    }
    // The whole suite can run against clusters with TLS and tokens (ctest's *-secure runs).
    if (getenv("NOMAD_TEST_SECURE")) enable_security(/*export_to_cli=*/true);
  }

  // Before start_all: every node gets its certificate from `nomad-lite tls init` and the
  // token file, and this process's clients use the client certificate and the operator token.
  // With export_to_cli, CLI processes the test runs get them too (NOMAD_LITE_* variables).
  void enable_security(bool export_to_cli) {
    pki_ = root_ + "/pki";
    RunResult r = run_command(
        {NOMAD_LITE_BIN, "tls", "init", pki_, "--nodes", std::to_string(members_.size())});
    if (r.exit_code != 0) throw std::runtime_error("tls init failed: " + r.err);
    std::string tokens = read_text(pki_ + "/tokens");
    for (const char* role : {"operator", "submit", "read"}) {
      size_t at = tokens.find(std::string("\n") + role + " ");
      if (at == std::string::npos)
        throw std::runtime_error("tls init wrote no token for " + std::string(role));
      size_t start = at + 2 + std::string(role).size();
      tokens_[role] = tokens.substr(start, tokens.find('\n', start) - start);
    }
    client_credentials_ = tls_credentials(pki_ + "/ca.pem", pki_ + "/client.pem",
                                          pki_ + "/client-key.pem", tokens_["operator"]);
    if (export_to_cli) {
      setenv("NOMAD_LITE_CACERT", (pki_ + "/ca.pem").c_str(), 1);
      setenv("NOMAD_LITE_CLIENT_CERT", (pki_ + "/client.pem").c_str(), 1);
      setenv("NOMAD_LITE_CLIENT_KEY", (pki_ + "/client-key.pem").c_str(), 1);
      setenv("NOMAD_LITE_TOKEN", tokens_["operator"].c_str(), 1);
    }
  }
  bool secure() const { return !pki_.empty(); }
  const std::string& pki_dir() const { return pki_; }
  // The token of `role` (operator, submit, read) from the token file.
  const std::string& token(const std::string& role) const { return tokens_.at(role); }

  // TLS with the given client certificate (none when cert is ""), and a bearer token on every
  // call when `token` is not empty.
  static std::shared_ptr<grpc::ChannelCredentials> tls_credentials(const std::string& ca,
                                                                   const std::string& cert,
                                                                   const std::string& key,
                                                                   const std::string& token) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = read_text(ca);
    if (!cert.empty()) {
      options.pem_cert_chain = read_text(cert);
      options.pem_private_key = read_text(key);
    }
    auto channel = grpc::SslCredentials(options);
    if (token.empty()) return channel;
    return grpc::CompositeChannelCredentials(channel, grpc::AccessTokenCredentials(token));
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
    std::vector<std::string> args = {
        NOMAD_LITE_BIN,         "server",  "--node-id", std::to_string(id), "--port",
        std::to_string(m.port), "--peers", peers,       "--data-dir",       m.data_dir};
    // Nodes run no jobs unless the test asks for worker slots.
    if (std::find(extra_args_.begin(), extra_args_.end(), "--worker-slots") == extra_args_.end()) {
      args.insert(args.end(), {"--worker-slots", "0"});
    }
    if (dashboards_)
      args.insert(args.end(), {"--dashboard-port", std::to_string(m.dashboard_port)});
    if (secure()) {
      std::string node = pki_ + "/node-" + std::to_string(id);
      args.insert(args.end(), {"--tls-cert", node + ".pem", "--tls-key", node + "-key.pem",
                               "--tls-ca", pki_ + "/ca.pem", "--token-file", pki_ + "/tokens"});
    }
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
    m.stub = nomad_lite::SchedulerService::NewStub(
        grpc::CreateCustomChannel(m.address(), client_credentials_, channel_args));
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
  // Sends `signal` and waits for the process to end; returns its wait status (-1: not running).
  int kill(uint64_t id, int signal) {
    Member& m = members_.at(id);
    if (m.pid <= 0) return -1;
    ::kill(m.pid, signal);
    int status = 0;
    waitpid(m.pid, &status, 0);
    // A server killed outright leaves its jobs' cgroups behind (worker/cgroup.h).
    worker::remove_cgroup_trees_of(m.pid, std::chrono::seconds(2));
    m.pid = -1;
    return status;
  }

  // Closes this process's connections to every node (start() opens a node's again). A server
  // gives an idle client connection up to its shutdown deadline to go away, and a client
  // process that makes no calls may take that long to notice it should.
  void close_clients() {
    for (auto& [id, m] : members_) m.stub.reset();
  }

  bool running(uint64_t id) const { return members_.at(id).pid > 0; }

  std::optional<nomad_lite::GetClusterStatusResponse> status(uint64_t id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    // Wait for the connection rather than fail fast: polling with fail-fast calls cancels the
    // connection attempt each time ("tcp handshaker shutdown") and never gets through.
    ctx.set_wait_for_ready(true);
    nomad_lite::GetClusterStatusResponse r;
    const auto& stub = members_.at(id).stub;
    if (!stub || !stub->GetClusterStatus(&ctx, {}, &r).ok()) return std::nullopt;
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
    wait_until(
        [&] {
          leader = agreed_leader();
          return leader != 0 && leader != not_this;
        },
        timeout);
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

  // --- jobs ----------------------------------------------------------------------------------

  grpc::Status submit(uint64_t id, const nomad_lite::SubmitJobRequest& request,
                      nomad_lite::Job* job) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    nomad_lite::SubmitJobResponse resp;
    grpc::Status s = members_.at(id).stub->SubmitJob(&ctx, request, &resp);
    if (job) *job = resp.job();
    return s;
  }

  // Submits to whichever node leads, following refusals (leader-id metadata) and trying the
  // next node when one does not answer, until acknowledged or `timeout` passes. Give the
  // request an idempotency key: a retry after a lost answer must not create a second job.
  // Reads no process state, so threads may call it while the test kills a node.
  grpc::Status submit_to_leader(const nomad_lite::SubmitJobRequest& request, nomad_lite::Job* job,
                                std::chrono::milliseconds timeout = 30s, uint64_t hint = 0) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<uint64_t> all = ids();
    size_t next = 0;
    uint64_t target = hint ? hint : all[0];
    grpc::Status s;
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 2s);
      nomad_lite::SubmitJobResponse resp;
      s = members_.at(target).stub->SubmitJob(&ctx, request, &resp);
      if (s.ok()) {
        if (job) *job = resp.job();
        return s;
      }
      if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) return s;
      if (std::chrono::steady_clock::now() >= deadline) return s;
      uint64_t leader = 0;
      auto md = ctx.GetServerTrailingMetadata();
      if (auto it = md.find("leader-id"); it != md.end()) {
        leader = std::stoull(std::string(it->second.data(), it->second.size()));
      }
      if (leader != 0 && leader != target && members_.count(leader)) {
        target = leader;
      } else {
        target = all[next++ % all.size()];
        std::this_thread::sleep_for(20ms);  // polling interval between attempts
      }
    }
  }

  // The job as node `id` knows it.
  std::optional<nomad_lite::Job> job(uint64_t id, const std::string& job_id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    ctx.set_wait_for_ready(true);
    nomad_lite::GetJobStatusRequest req;
    req.set_job_id(job_id);
    nomad_lite::GetJobStatusResponse resp;
    if (!members_.at(id).stub->GetJobStatus(&ctx, req, &resp).ok()) return std::nullopt;
    return resp.job();
  }

  // The job as the first running node that answers knows it (the leader first when known).
  std::optional<nomad_lite::Job> job_anywhere(const std::string& job_id, uint64_t prefer = 0) {
    if (prefer && running(prefer)) {
      if (auto j = job(prefer, job_id)) return j;
    }
    for (uint64_t id : ids()) {
      if (id == prefer || !running(id)) continue;
      if (auto j = job(id, job_id)) return j;
    }
    return std::nullopt;
  }

  // Polls until the job satisfies `pred` on some running node; returns its last state seen.
  std::optional<nomad_lite::Job> wait_for_job(
      const std::string& job_id, const std::function<bool(const nomad_lite::Job&)>& pred,
      std::chrono::milliseconds timeout = 20s) {
    std::optional<nomad_lite::Job> last;
    bool ok = wait_until(
        [&] {
          auto j = job_anywhere(job_id);
          if (j) last = j;
          return j && pred(*j);
        },
        timeout);
    if (!ok) return std::nullopt;
    return last;
  }

  // Every job node `id` lists (all pages).
  std::optional<std::vector<nomad_lite::Job>> jobs(
      uint64_t id, nomad_lite::JobStatus status = nomad_lite::JOB_STATUS_UNSPECIFIED) {
    std::vector<nomad_lite::Job> out;
    std::string token;
    do {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 2s);
      ctx.set_wait_for_ready(true);
      nomad_lite::ListJobsRequest req;
      req.set_limit(1000);
      req.set_status(status);
      req.set_page_token(token);
      nomad_lite::ListJobsResponse resp;
      if (!members_.at(id).stub->ListJobs(&ctx, req, &resp).ok()) return std::nullopt;
      for (const auto& j : resp.jobs()) out.push_back(j);
      token = resp.next_page_token();
    } while (!token.empty());
    return out;
  }

  // A job's output as node `id` streams it (StreamJobLogs without follow).
  struct Logs {
    grpc::Status status;
    std::string data;
    bool tail_only = false;  // some chunk was only the replicated tail
  };
  Logs logs(uint64_t id, const std::string& job_id, bool from_stderr = false) {
    Logs out;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    ctx.set_wait_for_ready(true);
    nomad_lite::JobLogsRequest req;
    req.set_job_id(job_id);
    req.set_stderr(from_stderr);
    auto reader = members_.at(id).stub->StreamJobLogs(&ctx, req);
    nomad_lite::LogChunk chunk;
    while (reader->Read(&chunk)) {
      out.data += chunk.data();
      out.tail_only = out.tail_only || chunk.tail_only();
    }
    out.status = reader->Finish();
    return out;
  }

  // "http://host:port,..." of the running nodes (or of `only`), for the CLI's --addr.
  std::string addr_flag(std::vector<uint64_t> only = {}) const {
    if (only.empty()) {
      for (const auto& [id, m] : members_) {
        if (m.pid > 0) only.push_back(id);
      }
    }
    std::string out;
    for (uint64_t id : only)
      out += (out.empty() ? "" : ",") + ("http://" + members_.at(id).address());
    return out;
  }

  // Runs the CLI binary against `nodes` (default: every running node), for at most `timeout`.
  RunResult cli(std::vector<std::string> args, std::vector<uint64_t> nodes = {},
                std::chrono::milliseconds timeout = 30s) const {
    args.insert(args.begin(), {NOMAD_LITE_BIN, "--addr", addr_flag(std::move(nodes))});
    return run_bounded(args, timeout);
  }

  Member& member(uint64_t id) { return members_.at(id); }
  // Arguments added to every later start of any node (a restart with another flag).
  void add_server_args(const std::vector<std::string>& args) {
    extra_args_.insert(extra_args_.end(), args.begin(), args.end());
  }
  const std::string& root() const { return root_; }
  std::vector<uint64_t> ids() const {
    std::vector<uint64_t> out;
    for (const auto& [id, m] : members_) out.push_back(id);
    return out;
  }

 private:
  std::vector<std::string> extra_args_;
  bool dashboards_ = false;
  std::string root_;
  std::string pki_;  // with security: the files of tls init
  std::map<std::string, std::string> tokens_;
  std::shared_ptr<grpc::ChannelCredentials> client_credentials_ =
      grpc::InsecureChannelCredentials();
  std::map<uint64_t, Member> members_;
};

inline bool is_final(nomad_lite::JobStatus s) {
  return s == nomad_lite::JOB_STATUS_COMPLETED || s == nomad_lite::JOB_STATUS_FAILED ||
         s == nomad_lite::JOB_STATUS_CANCELLED;
}

// Whole contents of a file ("" if it cannot be read).
inline std::string read_file(const std::string& path) {
  std::string data;
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return data;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, n);
  fclose(f);
  return data;
}

// Polls until `path` holds a whole line with a number (a job's `echo $$ > path`); 0 if not.
inline pid_t wait_for_pid_file(const std::string& path, std::chrono::milliseconds timeout = 10s) {
  pid_t pid = 0;
  wait_until(
      [&] {
        std::string s = read_file(path);
        if (s.empty() || s.back() != '\n') return false;
        pid = static_cast<pid_t>(std::stol(s));
        return pid > 0;
      },
      timeout);
  return pid;
}

// Live processes of the host whose command line holds `marker` (a distinctive argument such as
// "sleep 30.4141") and, if given, whose name is `comm`. A job in a PID namespace of its own
// cannot tell its host pid (its $$ is the namespace's), so tests find it by such a marker.
inline std::vector<pid_t> processes_with(const std::string& marker, const std::string& comm = "") {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (!proc) return out;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string dir = "/proc/" + std::string(e->d_name);
    if (read_file(dir + "/cmdline").find(marker) == std::string::npos) continue;
    if (!comm.empty() && read_file(dir + "/comm") != comm + "\n") continue;
    std::string stat = read_file(dir + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) continue;
    if (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X') continue;
    out.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return out;
}

// The process group of `pid`, 0 if it is gone.
inline pid_t group_of(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  char state = 0;
  long ppid = 0, pgrp = 0;
  if (paren == std::string::npos ||
      sscanf(stat.c_str() + paren + 2, "%c %ld %ld", &state, &ppid, &pgrp) != 3) {
    return 0;
  }
  return static_cast<pid_t>(pgrp);
}

// Processes in process group `pgid` that are not zombies. (A zombie has ended: when nothing
// reaps orphans, as in a container whose PID 1 does not, kill(-pgid, 0) still finds them.)
inline std::vector<pid_t> live_processes_in_group(pid_t pgid) {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (!proc) return out;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string stat = read_file("/proc/" + std::string(e->d_name) + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) continue;
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (sscanf(stat.c_str() + paren + 2, "%c %ld %ld", &state, &ppid, &pgrp) != 3) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') out.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return out;
}

// A child process whose stdout the test reads as it comes (stderr goes to a file).
class Subprocess {
 public:
  explicit Subprocess(const std::vector<std::string>& args) {
    err_path_ = (std::filesystem::temp_directory_path() / "nomad-sub-XXXXXX").string();
    // Close-on-exec: a server forked meanwhile must not hold the pipe open (no EOF then).
    int err_fd = mkostemp(err_path_.data(), O_CLOEXEC);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    std::vector<char*> argv;  // built before fork: the child only calls async-signal-safe functions
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      dup2(err_fd, STDERR_FILENO);
      close(fds[0]);
      close(fds[1]);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    close(err_fd);
    fd_ = fds[0];
  }
  ~Subprocess() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
    unlink(err_path_.c_str());
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Reads stdout until what was read contains `text`, end of file, or `timeout`.
  bool read_until(const std::string& text, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_.find(text) == std::string::npos) {
      if (!read_some(deadline)) break;
    }
    return out_.find(text) != std::string::npos;
  }
  // Reads stdout to end of file (or `timeout`); true at end of file.
  bool read_to_eof(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_ && read_some(deadline)) {
    }
    return eof_;
  }
  // The exit code once the process has ended within `timeout` (128 + N for signal N).
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    wait_until(
        [&] {
          int status = 0;
          if (exit_code_) return true;
          if (waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          }
          return exit_code_.has_value();
        },
        timeout);
    return exit_code_;
  }
  const std::string& out() const { return out_; }
  std::string err() const { return read_file(err_path_); }

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    if (eof_ || fd_ < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) return r < 0 && errno == EINTR;
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n < 0) return errno == EINTR;
    if (n == 0) {
      eof_ = true;
      return false;
    }
    out_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool eof_ = false;
  std::string out_;
  std::string err_path_;
  std::optional<int> exit_code_;
};

inline RunResult run_bounded(const std::vector<std::string>& args,
                             std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Subprocess p(args);
  RunResult r;
  p.read_to_eof(timeout);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  r.exit_code = p.wait(std::max(left, std::chrono::milliseconds(100))).value_or(-1);
  r.out = p.out();
  r.err = p.err();
  if (r.exit_code == -1) r.err += "\n[test: gave up on the command after its time limit]";
  return r;
}

}  // namespace nomad::testing
