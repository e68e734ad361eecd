// The leader's periodic launcher: it proposes a due tick once, waits for it to apply before
// deciding that job again, proposes again when the decision was lost, and forgets what it had
// in flight when a new term begins.

#include "node/periodic_launcher.h"

#include <gtest/gtest.h>

#include "jobs/periodic.h"

namespace nomad::node {
namespace {

using Clock = PeriodicLauncher::Clock;
constexpr int64_t kStart = 1'800'000'000'000;

struct Fixture {
  jobs::JobStore store;
  raft::Index index = 0;
  Clock::time_point t0 = Clock::now();

  Fixture() {
    nomad_lite::Command c;
    auto* p = c.mutable_periodic_create();
    p->set_id("p-1");
    p->mutable_child()->set_command("true");
    p->set_every_ms(1000);
    p->set_created_at_ms(kStart);
    apply(c);
  }
  jobs::ApplyResult apply(const nomad_lite::Command& c) {
    return store.apply(raft::Entry{1, ++index, raft::EntryType::kNormal, c.SerializeAsString()});
  }
};

TEST(PeriodicLauncher, ProposesEachDueTickOnceUntilItApplies) {
  Fixture f;
  PeriodicLauncher launcher;
  EXPECT_TRUE(launcher.collect(f.store, kStart + 500, f.t0, 1).empty());  // nothing due yet
  auto first = launcher.collect(f.store, kStart + 1000, f.t0, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].periodic_ticks().run_ms(), kStart + 1000);
  // In flight: later calls propose nothing for it, not even the next tick.
  EXPECT_TRUE(launcher.collect(f.store, kStart + 2000, f.t0 + std::chrono::seconds(1), 1).empty());
  f.apply(first[0]);
  auto next = launcher.collect(f.store, kStart + 2000, f.t0 + std::chrono::seconds(1), 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].periodic_ticks().run_ms(), kStart + 2000);
}

TEST(PeriodicLauncher, ADecisionNeverAppliedIsProposedAgainAfterAWhile) {
  Fixture f;
  PeriodicLauncher launcher;
  ASSERT_EQ(launcher.collect(f.store, kStart + 1000, f.t0, 1).size(), 1u);  // lost
  EXPECT_TRUE(launcher.collect(f.store, kStart + 1500, f.t0 + std::chrono::seconds(2), 1).empty());
  auto again = launcher.collect(f.store, kStart + 3500,
                                f.t0 + PeriodicLauncher::kRetryAfter + std::chrono::seconds(1), 1);
  ASSERT_EQ(again.size(), 3u);  // ticks 1, 2, 3, one decision each
  for (const auto& c : again) EXPECT_TRUE(f.apply(c).status);
  EXPECT_EQ(f.store.find_periodic("p-1")->launched(), 3u);
}

TEST(PeriodicLauncher, ANewTermForgetsWhatWasInFlight) {
  Fixture f;
  PeriodicLauncher launcher;
  ASSERT_EQ(launcher.collect(f.store, kStart + 1000, f.t0, 1).size(), 1u);
  // Leader again in a later term: the decision of term 1 may be gone with it.
  auto again = launcher.collect(f.store, kStart + 1100, f.t0, 3);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].periodic_ticks().run_ms(), kStart + 1000);
}

TEST(PeriodicLauncher, PausedAndCancelledJobsAreLeftAlone) {
  Fixture f;
  PeriodicLauncher launcher;
  nomad_lite::Command pause;
  pause.mutable_periodic_control()->set_periodic_id("p-1");
  pause.mutable_periodic_control()->set_action(nomad_lite::PERIODIC_PAUSE);
  f.apply(pause);
  EXPECT_TRUE(launcher.collect(f.store, kStart + 5000, f.t0, 1).empty());
}

}  // namespace
}  // namespace nomad::node
