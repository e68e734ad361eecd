// The periodic-job command line: job submit --cron/--every and its flags, job list
// --periodic, pause/resume/run-now. Mistakes exit 2 with the parser's message.

#include <gtest/gtest.h>

#include "cli/args.h"
#include "cli/periodic_commands.h"

namespace nomad::cli {
namespace {

Invocation periodic_parse_ok(const std::vector<std::string>& args) {
  ParsedArgs parsed = parse_args(args);
  EXPECT_TRUE(parsed.invocation.has_value()) << parsed.error;
  return parsed.invocation.value_or(Invocation{});
}

std::string periodic_parse_error(const std::vector<std::string>& args) {
  ParsedArgs parsed = parse_args(args);
  EXPECT_FALSE(parsed.invocation.has_value());
  EXPECT_EQ(parsed.exit_code, 2);
  return parsed.error;
}

TEST(PeriodicArgs, CronWithEveryOption) {
  Invocation inv = periodic_parse_ok({"job", "submit", "--cron", "*/5 * * * *", "--tz",
                                      "Europe/Berlin", "--overlap", "skip", "--catch-up", "all",
                                      "--keep-runs", "7", "--timeout", "10s", "--", "echo", "hi"});
  EXPECT_EQ(inv.command, Command::kJobSubmit);
  EXPECT_TRUE(inv.submit.periodic());
  EXPECT_EQ(inv.submit.cron, "*/5 * * * *");
  EXPECT_EQ(inv.submit.tz, "Europe/Berlin");
  EXPECT_EQ(inv.submit.overlap, nomad_lite::OVERLAP_SKIP);
  EXPECT_EQ(inv.submit.catch_up, nomad_lite::CATCH_UP_ALL);
  EXPECT_EQ(inv.submit.keep_runs, 7u);
  EXPECT_EQ(inv.submit.command, "echo hi");
  EXPECT_EQ(inv.submit.timeout, Millis(10'000));
}

TEST(PeriodicArgs, EveryAndTheDefaults) {
  Invocation inv = periodic_parse_ok({"job", "submit", "--every", "1m", "--", "true"});
  EXPECT_EQ(inv.submit.every, Millis(60'000));
  EXPECT_EQ(inv.submit.overlap, nomad_lite::OVERLAP_ALLOW);
  EXPECT_EQ(inv.submit.catch_up, nomad_lite::CATCH_UP_LAST);
  EXPECT_FALSE(inv.submit.keep_runs);
  EXPECT_FALSE(periodic_parse_ok({"job", "submit", "--", "true"}).submit.periodic());
}

TEST(PeriodicArgs, MistakesAreRefusedWithTheParsersMessage) {
  EXPECT_NE(
      periodic_parse_error({"job", "submit", "--cron", "61 * * * *", "--", "true"}).find("minute"),
      std::string::npos);
  EXPECT_NE(periodic_parse_error(
                {"job", "submit", "--cron", "0 3 * * *", "--tz", "Mars/Olympus", "--", "true"})
                .find("Mars/Olympus"),
            std::string::npos);
  EXPECT_NE(periodic_parse_error({"job", "submit", "--every", "500ms", "--", "true"}).find("1s"),
            std::string::npos);
  EXPECT_NE(
      periodic_parse_error({"job", "submit", "--cron", "* * * * *", "--every", "1s", "--", "true"})
          .find("not both"),
      std::string::npos);
  EXPECT_NE(periodic_parse_error({"job", "submit", "--every", "1s", "--tz", "UTC", "--", "true"})
                .find("--cron only"),
            std::string::npos);
  EXPECT_NE(
      periodic_parse_error({"job", "submit", "--every", "1s", "--overlap", "queue", "--", "true"})
          .find("allow, skip or cancel"),
      std::string::npos);
  EXPECT_NE(
      periodic_parse_error({"job", "submit", "--every", "1s", "--catch-up", "some", "--", "true"})
          .find("last, none or all"),
      std::string::npos);
  EXPECT_NE(
      periodic_parse_error({"job", "submit", "--every", "1s", "--keep-runs", "0", "--", "true"})
          .find("--keep-runs"),
      std::string::npos);
  EXPECT_NE(periodic_parse_error({"job", "submit", "--every", "1s", "--wait", "--", "true"})
                .find("--wait"),
            std::string::npos);
  EXPECT_NE(
      periodic_parse_error({"job", "submit", "--overlap", "skip", "--", "true"}).find("--cron"),
      std::string::npos);
}

TEST(PeriodicArgs, ListPauseResumeRunNow) {
  EXPECT_TRUE(periodic_parse_ok({"job", "list", "--periodic"}).list.periodic);
  EXPECT_FALSE(periodic_parse_ok({"job", "list", "--periodic"}).list.all);
  EXPECT_TRUE(periodic_parse_ok({"job", "list", "--periodic", "--all"}).list.all);
  periodic_parse_error({"job", "list", "--all"});  // job list shows every status already
  Invocation pause = periodic_parse_ok({"job", "pause", "p-0123456789abcdef"});
  EXPECT_EQ(pause.command, Command::kJobPause);
  EXPECT_EQ(pause.job_id, "p-0123456789abcdef");
  EXPECT_EQ(periodic_parse_ok({"job", "resume", "p-0123456789abcdef"}).command,
            Command::kJobResume);
  EXPECT_EQ(periodic_parse_ok({"job", "run-now", "p-0123456789abcdef"}).command,
            Command::kJobRunNow);
  periodic_parse_error({"job", "pause"});
}

TEST(PeriodicArgs, AfterTakesACommaSeparatedListOfJobIds) {
  Invocation inv = periodic_parse_ok({"job", "submit", "--after", "a1,b2", "--", "true"});
  EXPECT_EQ(inv.submit.after, (std::vector<std::string>{"a1", "b2"}));
  EXPECT_NE(periodic_parse_error({"job", "submit", "--after", "a1,,b2", "--", "true"})
                .find("empty job id"),
            std::string::npos);
  EXPECT_NE(periodic_parse_error({"job", "submit", "--every", "1s", "--after", "a1", "--", "true"})
                .find("--after"),
            std::string::npos);
}

TEST(PeriodicArgs, PeriodicIdsAreToldFromJobAndChildIds) {
  EXPECT_TRUE(is_periodic_id("p-0123456789abcdef"));
  EXPECT_FALSE(is_periodic_id("p-0123456789abcdef-1765105200000"));  // a child
  EXPECT_FALSE(is_periodic_id("p-0123456789ABCDEF"));
  EXPECT_FALSE(is_periodic_id("3f9a0c1d-2e4b-4a69-8c1d-2e4b5a693f9a"));
}

}  // namespace
}  // namespace nomad::cli
