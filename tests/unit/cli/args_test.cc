#include "cli/args.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/server_flags.h"

namespace nomad::cli {
namespace {

// NOMAD_LITE_ADDR set for the lifetime of one test (unset when `value` is null).
class ScopedAddrEnv {
 public:
  explicit ScopedAddrEnv(const char* value) {
    if (const char* old = getenv("NOMAD_LITE_ADDR")) saved_ = old;
    if (value) {
      setenv("NOMAD_LITE_ADDR", value, 1);
    } else {
      unsetenv("NOMAD_LITE_ADDR");
    }
  }
  ~ScopedAddrEnv() {
    if (saved_.empty()) {
      unsetenv("NOMAD_LITE_ADDR");
    } else {
      setenv("NOMAD_LITE_ADDR", saved_.c_str(), 1);
    }
  }

 private:
  std::string saved_;
};

Invocation parse_ok(const std::vector<std::string>& args) {
  ParsedArgs parsed = parse_args(args);
  EXPECT_TRUE(parsed.invocation.has_value()) << parsed.error;
  EXPECT_TRUE(parsed.error.empty()) << parsed.error;
  return parsed.invocation.value_or(Invocation{});
}

// A usage error: exit code 2 and one line on stderr that contains `expected`.
void expect_usage_error(const std::vector<std::string>& args, const std::string& expected) {
  ParsedArgs parsed = parse_args(args);
  EXPECT_FALSE(parsed.invocation.has_value());
  EXPECT_EQ(parsed.exit_code, 2);
  EXPECT_EQ(parsed.error.find('\n'), std::string::npos) << parsed.error;
  EXPECT_EQ(parsed.error.rfind("nomad-lite: ", 0), 0u) << parsed.error;
  EXPECT_NE(parsed.error.find(expected), std::string::npos)
      << "error '" << parsed.error << "' does not mention '" << expected << "'";
}

TEST(ServerArgs, TheSeedsBareFormStartsAServer) {
  Invocation inv = parse_ok({"--node-id", "1", "--port", "50051", "--dashboard-port", "8081",
                             "--peers", "2:127.0.0.1:50052,3:127.0.0.1:50053"});
  ASSERT_EQ(inv.command, Command::kServer);
  EXPECT_EQ(inv.server.node_id, 1u);
  EXPECT_EQ(inv.server.port, 50051);
  EXPECT_EQ(inv.server.dashboard_port, 8081);
  ASSERT_EQ(inv.server.peers.size(), 2u);
  EXPECT_EQ(inv.server.peers[0].id, 2u);
  EXPECT_EQ(inv.server.peers[0].address(), "127.0.0.1:50052");
  EXPECT_EQ(inv.server.peers[1].address(), "127.0.0.1:50053");
}

TEST(ServerArgs, BareFormAcceptsFlagEqualsValue) {
  Invocation inv = parse_ok({"--node-id=3", "--port=50053"});
  ASSERT_EQ(inv.command, Command::kServer);
  EXPECT_EQ(inv.server.node_id, 3u);
  EXPECT_EQ(inv.server.port, 50053);
}

TEST(ServerArgs, DefaultsMatchTheDesign) {
  Invocation inv = parse_ok({"server"});
  ASSERT_EQ(inv.command, Command::kServer);
  EXPECT_EQ(inv.server.node_id, 1u);
  EXPECT_EQ(inv.server.port, 50051);
  EXPECT_EQ(inv.server.dashboard_port, 0);
  EXPECT_EQ(inv.server.bind, "127.0.0.1");
  EXPECT_TRUE(inv.server.peers.empty());
  EXPECT_EQ(inv.server.election_timeout, Millis(150));
  EXPECT_EQ(inv.server.heartbeat_interval, Millis(50));
  EXPECT_EQ(inv.server.log_level, "info");
  EXPECT_EQ(inv.server.worker_slots, -1);
  EXPECT_EQ(inv.server.executor, common::Isolation::kRaw);
  EXPECT_EQ(inv.server.effective_data_dir(), "./data/node-1");
}

TEST(ServerArgs, EveryFlagReachesTheConfig) {
  Invocation inv = parse_ok({"server",
                             "--node-id",
                             "2",
                             "--port",
                             "6000",
                             "--dashboard-port",
                             "6001",
                             "--data-dir",
                             "/tmp/x",
                             "--bind",
                             "0.0.0.0",
                             "--insecure",
                             "--advertise",
                             "node2:6000",
                             "--election-timeout",
                             "1s",
                             "--heartbeat-interval",
                             "100ms",
                             "--log-level",
                             "debug",
                             "--log-format",
                             "json",
                             "--worker-slots",
                             "0",
                             "--snapshot-entries",
                             "500",
                             "--executor",
                             "sandbox"});
  const auto& c = inv.server;
  EXPECT_EQ(c.node_id, 2u);
  EXPECT_EQ(c.port, 6000);
  EXPECT_EQ(c.dashboard_port, 6001);
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.bind, "0.0.0.0");
  EXPECT_TRUE(c.insecure);
  EXPECT_EQ(c.advertise_address(), "node2:6000");
  EXPECT_EQ(c.election_timeout, Millis(1000));
  EXPECT_EQ(c.heartbeat_interval, Millis(100));
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.worker_slots, 0);
  EXPECT_EQ(c.snapshot_entries, 500u);
  EXPECT_EQ(c.executor, common::Isolation::kSandbox);
}

TEST(ServerArgs, ListeningBeyondLoopbackNeedsInsecure) {
  // Anyone reaching the port could run commands: refused unless the user says so.
  expect_usage_error({"server", "--bind", "0.0.0.0"}, "--bind 0.0.0.0: refusing to listen");
  expect_usage_error({"server", "--bind", "192.168.1.10"}, "add --insecure");
  expect_usage_error({"server", "--bind", "::"}, "--bind ::");
  expect_usage_error({"server", "--bind", "127.0.0.1.example.com"}, "refusing");
  for (const char* local : {"127.0.0.1", "127.10.0.2", "localhost", "::1"}) {
    Invocation inv = parse_ok({"server", "--bind", local});
    EXPECT_EQ(inv.server.bind, local);
    EXPECT_FALSE(inv.server.insecure);
  }
  // On loopback --insecure changes nothing, so nothing is reported as insecure.
  EXPECT_FALSE(parse_ok({"server", "--bind", "127.0.0.1", "--insecure"}).server.insecure);
  EXPECT_TRUE(parse_ok({"server", "--bind", "0.0.0.0", "--insecure"}).server.insecure);
}

TEST(ServerArgs, JobUserMustExistNotBeRootAndNeedsARootServer) {
  expect_usage_error({"server", "--job-user", "nomad-lite-no-such-user"},
                     "--job-user 'nomad-lite-no-such-user': no such user; create it or pick "
                     "another");
  expect_usage_error({"server", "--job-user", ""}, "--job-user: empty user name");
  // The tests run as root on CI; the check itself is given the server's uid.
  EXPECT_EQ(check_job_user("nobody", 1000).message(),
            "--job-user needs the server to run as root (it is running as uid 1000); drop the "
            "flag or start the server as root");
  EXPECT_TRUE(check_job_user("nobody", 0).is_ok());
  EXPECT_NE(check_job_user("root", 0).message().find("say --job-user root"), std::string::npos);
  if (geteuid() != 0) GTEST_SKIP() << "a server given --job-user must run as root";
  EXPECT_EQ(parse_ok({"server", "--job-user", "nobody"}).server.job_user, "nobody");
}

TEST(ServerArgs, ARootServerRunsJobsAsNobodyUnlessToldRootExplicitly) {
  std::string user;
  EXPECT_TRUE(resolve_job_user(false, 0, &user).is_ok());
  EXPECT_EQ(user, "nobody");
  user = "root";
  EXPECT_TRUE(resolve_job_user(true, 0, &user).is_ok());
  EXPECT_EQ(user, "") << "--job-user root keeps the server's (root) identity";
  user = "";
  EXPECT_TRUE(resolve_job_user(false, 1000, &user).is_ok());
  EXPECT_EQ(user, "") << "a server not run as root runs jobs as itself";
  user = "root";
  EXPECT_FALSE(resolve_job_user(true, 1000, &user).is_ok());
  if (geteuid() != 0) GTEST_SKIP() << "the parser sees the real uid";
  EXPECT_EQ(parse_ok({"server"}).server.job_user, "nobody");
  EXPECT_EQ(parse_ok({"server", "--job-user", "root"}).server.job_user, "");
}

TEST(ServerArgs, MalformedFlagsAreOneLineAndExitCode2) {
  expect_usage_error({"--node-id", "2", "--peers", "2:127.0.0.1:50052"}, "own id 2");
  expect_usage_error({"--node-id", "1", "--peers", "2:a:1,2:b:2"}, "appears twice");
  expect_usage_error({"--peers", "2:127.0.0.1"}, "'2:127.0.0.1'");
  expect_usage_error({"server", "--election-timeout", "150"}, "unit is missing");
  expect_usage_error({"server", "--heartbeat-interval", "soon"}, "--heartbeat-interval");
  expect_usage_error({"server", "--election-timeout", "100ms", "--heartbeat-interval", "100ms"},
                     "must be shorter than --election-timeout");
  expect_usage_error({"server", "--port", "70000"}, "--port: '70000'");
  expect_usage_error({"server", "--port", "0"}, "--port");
  expect_usage_error({"server", "--node-id", "0"}, "--node-id");
  expect_usage_error({"server", "--node-id", "one"}, "--node-id: 'one'");
  expect_usage_error({"server", "--log-level", "loud"}, "'loud'");
  expect_usage_error({"server", "--log-format", "xml"}, "--log-format: 'xml' is not text or json");
  expect_usage_error({"server", "--log-format", ""}, "--log-format");
  expect_usage_error({"server", "--executor", "docker"},
                     "--executor: 'docker' is not raw or sandbox");
  expect_usage_error({"server", "--advertise", "nohost"}, "--advertise");
  expect_usage_error({"server", "--frobnicate"}, "unknown option '--frobnicate'");
  expect_usage_error({"--node-id", "1", "--frobnicate"}, "unknown option '--frobnicate'");
  // A client's flags mean nothing to a server.
  expect_usage_error({"server", "--addr", "x:1"}, "--addr");
}

TEST(ClientArgs, TheSeedsFormsWorkWordForWord) {
  ScopedAddrEnv env(nullptr);
  Invocation cluster = parse_ok({"--addr", "http://127.0.0.1:50051", "cluster"});
  EXPECT_EQ(cluster.command, Command::kClusterStatus);
  EXPECT_EQ(cluster.client.addresses, std::vector<std::string>{"127.0.0.1:50051"});

  Invocation submit =
      parse_ok({"--addr", "http://127.0.0.1:50051", "submit", "--cmd", "echo hello"});
  EXPECT_EQ(submit.command, Command::kJobSubmit);
  EXPECT_EQ(submit.submit.command, "echo hello");

  Invocation list = parse_ok({"--addr", "http://127.0.0.1:50051", "list"});
  EXPECT_EQ(list.command, Command::kJobList);

  Invocation status = parse_ok({"--addr", "http://127.0.0.1:50051", "status", "--job-id", "abc"});
  EXPECT_EQ(status.command, Command::kJobStatus);
  EXPECT_EQ(status.job_id, "abc");

  // clap gave the seed's flags short forms too.
  EXPECT_EQ(parse_ok({"submit", "-c", "date"}).submit.command, "date");
  EXPECT_EQ(parse_ok({"status", "-j", "xyz"}).job_id, "xyz");
}

TEST(ClientArgs, JobCommands) {
  ScopedAddrEnv env(nullptr);
  Invocation status = parse_ok({"job", "status", "abc"});
  EXPECT_EQ(status.command, Command::kJobStatus);
  EXPECT_EQ(status.job_id, "abc");
  Invocation cancel = parse_ok({"job", "cancel", "def"});
  EXPECT_EQ(cancel.command, Command::kJobCancel);
  EXPECT_EQ(cancel.job_id, "def");
  EXPECT_EQ(parse_ok({"cluster", "status"}).command, Command::kClusterStatus);

  Invocation list = parse_ok({"job", "list", "--status", "failed", "--limit", "5"});
  EXPECT_EQ(list.command, Command::kJobList);
  EXPECT_EQ(list.list.status, nomad_lite::JOB_STATUS_FAILED);
  EXPECT_EQ(list.list.limit, 5u);
  Invocation all = parse_ok({"job", "list"});
  EXPECT_EQ(all.list.status, nomad_lite::JOB_STATUS_UNSPECIFIED);
  EXPECT_EQ(all.list.limit, 0u);
  EXPECT_EQ(all.client.addresses, std::vector<std::string>{"127.0.0.1:50051"});
  EXPECT_EQ(all.client.output, OutputFormat::kTable);
}

TEST(ClientArgs, WordsAfterDashesAreJoinedWithShellQuoting) {
  Invocation inv = parse_ok({"job", "submit", "--", "sh", "-c", "echo a; echo b"});
  ASSERT_EQ(inv.command, Command::kJobSubmit);
  EXPECT_EQ(inv.submit.command, "sh -c 'echo a; echo b'");
  // Flags after -- belong to the job's command, not to nomad-lite.
  EXPECT_EQ(parse_ok({"job", "submit", "--", "ls", "-la", "--timeout", "x"}).submit.command,
            "ls -la --timeout x");
  EXPECT_EQ(parse_ok({"submit", "--", "echo", "it's"}).submit.command, "echo 'it'\\''s'");
}

TEST(ClientArgs, SubmitOptions) {
  Invocation inv = parse_ok({"job", "submit", "--timeout", "30s", "--retries", "2", "--env", "A=1",
                             "--env", "B=x=y", "--idempotency-key", "k1", "--", "true"});
  EXPECT_EQ(inv.submit.command, "true");
  EXPECT_EQ(inv.submit.timeout, Millis(30'000));
  EXPECT_EQ(inv.submit.retries, 2u);
  EXPECT_EQ(inv.submit.env, (std::map<std::string, std::string>{{"A", "1"}, {"B", "x=y"}}));
  EXPECT_EQ(inv.submit.idempotency_key, "k1");
  Invocation plain = parse_ok({"job", "submit", "--", "true"});
  EXPECT_EQ(plain.submit.timeout, Millis(0));
  EXPECT_TRUE(plain.submit.idempotency_key.empty());  // the CLI picks one per submission
  EXPECT_EQ(plain.submit.lost_retries, 3u);
  EXPECT_EQ(plain.submit.on_disconnect, nomad_lite::ON_DISCONNECT_STOP);
}

TEST(ClientArgs, SubmitLostRetriesAndOnDisconnect) {
  Invocation inv = parse_ok(
      {"job", "submit", "--lost-retries", "0", "--on-disconnect", "keep-running", "--", "true"});
  EXPECT_EQ(inv.submit.lost_retries, 0u);
  EXPECT_EQ(inv.submit.on_disconnect, nomad_lite::ON_DISCONNECT_KEEP_RUNNING);
  EXPECT_EQ(
      parse_ok({"job", "submit", "--on-disconnect", "stop", "--", "true"}).submit.on_disconnect,
      nomad_lite::ON_DISCONNECT_STOP);
  expect_usage_error({"job", "submit", "--on-disconnect", "pause", "--", "true"},
                     "--on-disconnect: 'pause' is not stop or keep-running");
  expect_usage_error({"job", "submit", "--lost-retries", "-1", "--", "true"}, "--lost-retries");
}

TEST(ClientArgs, SubmitMistakes) {
  expect_usage_error({"job", "submit", "echo", "hi"}, "after --");
  expect_usage_error({"job", "submit"}, "no command");
  expect_usage_error({"job", "submit", "--"}, "no command after --");
  expect_usage_error({"job", "submit", "--cmd", "a", "--", "b"}, "not both");
  expect_usage_error({"job", "submit", "--timeout", "30", "--", "true"}, "--timeout");
  expect_usage_error({"job", "submit", "--env", "NOVALUE", "--", "true"}, "'NOVALUE' is not K=V");
  expect_usage_error({"job", "list", "--", "x"}, "belong to job submit");
}

TEST(ClientArgs, OtherMistakes) {
  expect_usage_error({}, "no command");
  expect_usage_error({"job"}, "nomad-lite job --help");
  expect_usage_error({"job", "status"}, "give its id");
  expect_usage_error({"job", "status", "a", "--job-id", "b"}, "two job ids");
  expect_usage_error({"job", "list", "--status", "done"}, "'done'");
  expect_usage_error({"job", "list", "--limit", "many"}, "--limit");
  expect_usage_error({"-o", "yaml", "list"}, "'yaml'");
  expect_usage_error({"--addr", "https://a:1", "list"}, "TLS");
  expect_usage_error({"--bogus"}, "unknown option '--bogus'");
  expect_usage_error({"jobs"}, "'jobs'");
}

TEST(ClientArgs, GlobalOptionsGoBeforeOrAfterTheSubcommand) {
  ScopedAddrEnv env(nullptr);
  Invocation before = parse_ok({"-o", "json", "--addr", "10.0.0.1:7000", "job", "list"});
  Invocation after = parse_ok({"job", "list", "-o", "json", "--addr", "10.0.0.1:7000"});
  for (const auto& inv : {before, after}) {
    EXPECT_EQ(inv.client.output, OutputFormat::kJson);
    EXPECT_EQ(inv.client.addresses, std::vector<std::string>{"10.0.0.1:7000"});
  }
}

TEST(ClientArgs, AddressComesFromTheEnvironmentUnlessGiven) {
  ScopedAddrEnv env("http://h1:1,h2:2");
  EXPECT_EQ(parse_ok({"list"}).client.addresses, (std::vector<std::string>{"h1:1", "h2:2"}));
  EXPECT_EQ(parse_ok({"--addr", "h3:3", "list"}).client.addresses,
            std::vector<std::string>{"h3:3"});
}

TEST(ClientArgs, HelpGoesToStdoutWithExitCode0) {
  ParsedArgs top = parse_args({"--help"});
  EXPECT_FALSE(top.invocation);
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("server"), std::string::npos);
  EXPECT_NE(top.out.find("job"), std::string::npos);
  ParsedArgs submit = parse_args({"job", "submit", "--help"});
  EXPECT_EQ(submit.exit_code, 0);
  EXPECT_NE(submit.out.find("--timeout"), std::string::npos);
  ParsedArgs server = parse_args({"server", "-h"});
  EXPECT_NE(server.out.find("--election-timeout"), std::string::npos);
}

TEST(BenchArgs, OptionsAndDefaults) {
  ScopedAddrEnv env(nullptr);
  Invocation inv = parse_ok({"bench", "submit", "--addr", "a:1,b:2,c:3", "--clients", "256",
                             "--requests", "100000", "--payload", "200", "--duration", "30s"});
  ASSERT_EQ(inv.command, Command::kBenchSubmit);
  EXPECT_EQ(inv.client.addresses, (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_EQ(inv.bench.clients, 256);
  EXPECT_EQ(inv.bench.requests, 100000u);
  EXPECT_EQ(inv.bench.payload, 200u);
  EXPECT_EQ(inv.bench.duration, Millis(30'000));
  Invocation defaults = parse_ok({"bench", "submit"});
  EXPECT_EQ(defaults.bench.payload, 100u);
  EXPECT_EQ(defaults.bench.duration, Millis(60'000));
  expect_usage_error({"bench", "submit", "--clients", "0"}, "--clients");
  expect_usage_error({"bench", "submit", "--duration", "1"}, "--duration");
}

TEST(ClientArgs, SubmitPriorityAndWait) {
  Invocation inv = parse_ok({"job", "submit", "--priority", "5", "--wait", "--", "true"});
  ASSERT_EQ(inv.command, Command::kJobSubmit);
  EXPECT_EQ(inv.submit.priority, 5);
  EXPECT_TRUE(inv.submit.wait);
  EXPECT_EQ(parse_ok({"job", "submit", "--priority", "-3", "--", "true"}).submit.priority, -3);
  EXPECT_EQ(parse_ok({"job", "submit", "--priority=-3", "--", "true"}).submit.priority, -3);
  Invocation plain = parse_ok({"job", "submit", "--", "true"});
  EXPECT_EQ(plain.submit.priority, 0);
  EXPECT_FALSE(plain.submit.wait);
  // The seed's form takes the same flags.
  Invocation alias = parse_ok({"submit", "--cmd", "make", "--priority", "2", "--wait"});
  EXPECT_EQ(alias.command, Command::kJobSubmit);
  EXPECT_EQ(alias.submit.command, "make");
  EXPECT_EQ(alias.submit.priority, 2);
  EXPECT_TRUE(alias.submit.wait);
  expect_usage_error({"job", "submit", "--priority", "high", "--", "true"}, "--priority");
  expect_usage_error({"job", "submit", "--priority", "99999999999", "--", "true"}, "--priority");
  expect_usage_error({"job", "submit", "--wait=maybe", "--", "true"}, "--wait");
}

TEST(ClientArgs, JobWait) {
  Invocation inv = parse_ok({"job", "wait", "abc"});
  ASSERT_EQ(inv.command, Command::kJobWait);
  EXPECT_EQ(inv.job_id, "abc");
  EXPECT_EQ(inv.wait.timeout, Millis(0));
  Invocation limited = parse_ok({"job", "wait", "abc", "--timeout", "1m30s", "-o", "json"});
  EXPECT_EQ(limited.wait.timeout, Millis(90'000));
  EXPECT_EQ(limited.client.output, OutputFormat::kJson);
  EXPECT_EQ(parse_ok({"job", "wait", "--job-id", "xyz"}).job_id, "xyz");
  expect_usage_error({"job", "wait"}, "give its id: nomad-lite job wait ID");
  expect_usage_error({"job", "wait", "abc", "--timeout", "30"}, "--timeout");
  expect_usage_error({"job", "wait", "abc", "--timeout", "0s"}, "--timeout: must be more than 0s");
  expect_usage_error({"job", "wait", "a", "b"}, "'b'");
  ParsedArgs help = parse_args({"job", "wait", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("124"), std::string::npos) << help.out;
}

TEST(ClientArgs, JobLogs) {
  Invocation inv = parse_ok({"job", "logs", "abc"});
  ASSERT_EQ(inv.command, Command::kJobLogs);
  EXPECT_EQ(inv.job_id, "abc");
  EXPECT_FALSE(inv.logs.use_stderr);
  EXPECT_FALSE(inv.logs.follow);
  EXPECT_EQ(inv.logs.attempt, 0u);
  Invocation all = parse_ok({"job", "logs", "abc", "--stderr", "-f", "--attempt", "2"});
  EXPECT_TRUE(all.logs.use_stderr);
  EXPECT_TRUE(all.logs.follow);
  EXPECT_EQ(all.logs.attempt, 2u);
  EXPECT_TRUE(parse_ok({"job", "logs", "--follow", "abc"}).logs.follow);
  expect_usage_error({"job", "logs"}, "give its id");
  expect_usage_error({"job", "logs", "abc", "--attempt", "0"},
                     "--attempt: attempts are numbered from 1");
  expect_usage_error({"job", "logs", "abc", "--attempt", "last"}, "--attempt");
  expect_usage_error({"job", "logs", "abc", "--attempt", "-1"}, "--attempt");
  expect_usage_error({"job", "logs", "abc", "--stdout"}, "unknown option '--stdout'");
  expect_usage_error({"job", "logs", "abc", "--", "x"}, "belong to job submit");
}

TEST(BenchArgs, JobsOptionsAndDefaults) {
  ScopedAddrEnv env(nullptr);
  Invocation inv =
      parse_ok({"bench", "jobs", "--addr", "a:1,b:2,c:3", "--count", "500", "--clients", "32",
                "--command", "sleep 0", "--duration", "2m", "--channels", "2"});
  ASSERT_EQ(inv.command, Command::kBenchJobs);
  EXPECT_EQ(inv.client.addresses, (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_EQ(inv.bench_jobs.count, 500u);
  EXPECT_EQ(inv.bench_jobs.clients, 32);
  EXPECT_EQ(inv.bench_jobs.command, "sleep 0");
  EXPECT_EQ(inv.bench_jobs.duration, Millis(120'000));

  EXPECT_EQ(inv.bench_jobs.channels, 2);
  Invocation defaults = parse_ok({"bench", "jobs"});
  EXPECT_EQ(defaults.bench_jobs.count, 1000u);
  EXPECT_EQ(defaults.bench_jobs.clients, 16);
  EXPECT_EQ(defaults.bench_jobs.command, "true");
  EXPECT_EQ(defaults.bench_jobs.duration, Millis(60'000));
  EXPECT_EQ(defaults.bench_jobs.drain, Millis(30'000));
  expect_usage_error({"bench", "jobs", "--count", "0"}, "--count");
  expect_usage_error({"bench", "jobs", "--clients", "0"}, "--clients");
  expect_usage_error({"bench", "jobs", "--channels", "-1"}, "--channels");
  expect_usage_error({"bench", "jobs", "--command", ""}, "--command");
  expect_usage_error({"bench", "jobs", "--duration", "1"}, "--duration");
  expect_usage_error({"bench", "jobs", "--requests", "5"}, "unknown option '--requests'");
}

TEST(BenchArgs, SpawnOptionsAndDefaults) {
  Invocation inv =
      parse_ok({"bench", "spawn", "--parallel", "3", "--count", "90", "--command", "exit 0"});
  ASSERT_EQ(inv.command, Command::kBenchSpawn);
  EXPECT_EQ(inv.bench_spawn.parallel, 3);
  EXPECT_EQ(inv.bench_spawn.count, 90u);
  EXPECT_EQ(inv.bench_spawn.command, "exit 0");
  Invocation defaults = parse_ok({"bench", "spawn"});
  EXPECT_EQ(defaults.bench_spawn.parallel, 2);
  EXPECT_EQ(defaults.bench_spawn.count, 4000u);
  EXPECT_EQ(defaults.bench_spawn.command, "true");
  expect_usage_error({"bench", "spawn", "--parallel", "0"}, "--parallel");
  expect_usage_error({"bench", "spawn", "--count", "0"}, "--count");
  expect_usage_error({"bench", "spawn", "--command", ""}, "--command");
  expect_usage_error({"bench", "spawn", "--clients", "4"}, "unknown option '--clients'");
}

}  // namespace
}  // namespace nomad::cli

namespace nomad::cli {
namespace {

TEST(ReadArgs, EveryReadTakesConsistentAndMinIndex) {
  ScopedAddrEnv env(nullptr);
  for (std::vector<std::string> args : {std::vector<std::string>{"job", "status", "abc"},
                                        {"job", "list"},
                                        {"job", "wait", "abc"},
                                        {"job", "logs", "abc"},
                                        {"status", "--job-id", "abc"},
                                        {"list"}}) {
    args.push_back("--consistent");
    args.push_back("--min-index");
    args.push_back("812");
    Invocation inv = parse_ok(args);
    EXPECT_TRUE(inv.read.consistent) << args[1];
    EXPECT_EQ(inv.read.min_index, 812u) << args[1];
  }
  Invocation plain = parse_ok({"job", "status", "abc"});
  EXPECT_FALSE(plain.read.consistent);
  EXPECT_EQ(plain.read.min_index, 0u);
}

TEST(ClusterArgs, TransferLeaderTakesAnOptionalTarget) {
  ScopedAddrEnv env(nullptr);
  Invocation any = parse_ok({"cluster", "transfer-leader"});
  EXPECT_EQ(any.command, Command::kClusterTransferLeader);
  EXPECT_EQ(any.transfer_to, 0u);
  Invocation to = parse_ok({"cluster", "transfer-leader", "--to", "3"});
  EXPECT_EQ(to.transfer_to, 3u);
  expect_usage_error({"cluster", "transfer-leader", "--to", "0"}, "--to");
  EXPECT_EQ(parse_ok({"cluster", "status"}).command, Command::kClusterStatus);
}

}  // namespace
}  // namespace nomad::cli
