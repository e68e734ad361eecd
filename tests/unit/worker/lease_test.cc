// The worker's lease (worker/lease.h) and the watchdog that enforces it while the server is
// paused (worker/lease_watchdog.h): which acks renew it, when it lets an attempt start, and
// that the watchdog kills a guarded process group at the lease's end (SIGTERM, then SIGKILL
// after the grace) with real processes.

#include "worker/lease.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "worker/lease_watchdog.h"

namespace nomad::worker {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

LeaseAck ack(uint64_t seq, uint64_t term, uint64_t index, bool leader = true) {
  return {leader, seq, term, index};
}

TEST(LeaseSpan, IsTheTimeoutMinusAMarginOfAtLeastOneSecondAndAtMostHalf) {
  EXPECT_EQ(lease_span(5000ms, 150ms), 4000ms);      // margin 1 s
  EXPECT_EQ(lease_span(20'000ms, 150ms), 16'000ms);  // 20%
  EXPECT_EQ(lease_span(5000ms, 500ms), 3000ms);      // four election timeouts
  EXPECT_EQ(lease_span(1000ms, 150ms), 500ms);       // at most half the timeout
}

TEST(Lease, TheLeaseRunsFromTheSendTimeOfTheNewestAckedReport) {
  Lease lease(1000ms);
  const auto t0 = Clock::now();
  EXPECT_FALSE(lease.held_ever());
  EXPECT_FALSE(lease.valid(t0));
  uint64_t first = lease.sending(t0);
  uint64_t second = lease.sending(t0 + 300ms);
  EXPECT_TRUE(lease.acked(ack(second, 1, 10)));
  EXPECT_EQ(lease.expires(), t0 + 1300ms);
  EXPECT_FALSE(lease.acked(ack(first, 1, 9))) << "an older report's ack moved the lease back";
  EXPECT_EQ(lease.expires(), t0 + 1300ms);
  EXPECT_TRUE(lease.valid(t0 + 1299ms));
  EXPECT_FALSE(lease.valid(t0 + 1300ms));
}

TEST(Lease, AcksFromALowerTermOrANonLeaderOrOfUnknownReportsChangeNothing) {
  Lease lease(1000ms);
  const auto t0 = Clock::now();
  uint64_t a = lease.sending(t0);
  uint64_t b = lease.sending(t0 + 100ms);
  uint64_t c = lease.sending(t0 + 200ms);
  EXPECT_TRUE(lease.acked(ack(a, 5, 10)));
  EXPECT_FALSE(lease.acked(ack(b, 4, 11))) << "a deposed leader's ack renewed the lease";
  EXPECT_FALSE(lease.acked(ack(c, 5, 12, /*leader=*/false)));
  EXPECT_FALSE(lease.acked(ack(999, 5, 13)));
  EXPECT_EQ(lease.expires(), t0 + 1000ms);
  EXPECT_TRUE(lease.acked(ack(c, 6, 14)));
  EXPECT_EQ(lease.ack_index(), 14u);
}

TEST(Lease, AnAttemptMayStartOnlyUnderAValidLeaseWhoseIndexIsApplied) {
  Lease lease(1000ms);
  const auto t0 = Clock::now();
  EXPECT_FALSE(lease.may_start(100, t0)) << "no lease yet";
  EXPECT_TRUE(lease.acked(ack(lease.sending(t0), 1, 50)));
  EXPECT_FALSE(lease.may_start(49, t0 + 10ms)) << "the leader's entries up to 50 are not applied";
  EXPECT_TRUE(lease.may_start(50, t0 + 10ms));
  EXPECT_FALSE(lease.may_start(50, t0 + 1000ms)) << "expired";
}

TEST(Lease, AnOlderAckWhoseIndexIsAppliedAllowsAStartWhileTheNewestIsAhead) {
  // Under load every ack names entries the worker has not applied yet.
  Lease lease(1000ms);
  const auto t0 = Clock::now();
  EXPECT_TRUE(lease.acked(ack(lease.sending(t0), 1, 50)));
  EXPECT_TRUE(lease.acked(ack(lease.sending(t0 + 100ms), 1, 60)));
  EXPECT_TRUE(lease.acked(ack(lease.sending(t0 + 200ms), 1, 70)));
  EXPECT_TRUE(lease.may_start(65, t0 + 300ms)) << "the ack of index 60 is valid and applied";
  EXPECT_TRUE(lease.may_start(60, t0 + 1099ms));
  EXPECT_FALSE(lease.may_start(60, t0 + 1100ms)) << "that ack has expired";
  EXPECT_TRUE(lease.may_start(70, t0 + 1100ms)) << "the newest has not";
  EXPECT_FALSE(lease.may_start(49, t0 + 300ms));
}

// A process group of its own, running `command`; its id.
pid_t spawn_group(const std::string& command) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);  // either side may get there first
  return pid;
}

// Waits (polling, up to `within`) for `pid` to end; its wait status, or -1.
int wait_exit(pid_t pid, std::chrono::milliseconds within) {
  auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(5ms);  // polling the condition, not synchronising
  }
  return -1;
}

TEST(LeaseWatchdog, KillsAGuardedGroupAtTheLeasesEndWithSigkillAfterTheGrace) {
  std::string error;
  auto watchdog = LeaseWatchdog::start(300ms, &error);
  ASSERT_TRUE(watchdog) << error;
  // Ignores SIGTERM, as a job may: only SIGKILL ends it.
  pid_t group = spawn_group("trap '' TERM; while :; do sleep 0.05; done");
  ASSERT_GT(group, 0);
  const auto start = Clock::now();
  watchdog->set_expiry(start + 200ms);
  ASSERT_TRUE(watchdog->add(group));
  int status = wait_exit(group, 10s);
  const auto ended = Clock::now();
  ASSERT_NE(status, -1) << "the watchdog did not kill the group";
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_GE(ended - start, 200ms + 300ms) << "SIGKILL before the grace ended";
  EXPECT_TRUE(watchdog->remove(group)) << "the watchdog does not say it signalled the group";
}

TEST(LeaseWatchdog, LeavesGroupsAloneWhileTheLeaseIsValidAndForgetsRemovedOnes) {
  std::string error;
  auto watchdog = LeaseWatchdog::start(100ms, &error);
  ASSERT_TRUE(watchdog) << error;
  pid_t kept = spawn_group("sleep 30");
  pid_t removed = spawn_group("sleep 30");
  watchdog->set_expiry(Clock::now() + 60s);
  ASSERT_TRUE(watchdog->add(kept));
  ASSERT_TRUE(watchdog->add(removed));
  EXPECT_EQ(wait_exit(kept, 300ms), -1) << "killed under a valid lease";
  EXPECT_FALSE(watchdog->remove(removed));
  watchdog->set_expiry(Clock::now());  // the lease ends now
  int status = wait_exit(kept, 10s);
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  EXPECT_EQ(wait_exit(removed, 300ms), -1) << "a group no longer guarded was killed";
  kill(-removed, SIGKILL);
  wait_exit(removed, 10s);
}

}  // namespace
}  // namespace nomad::worker
