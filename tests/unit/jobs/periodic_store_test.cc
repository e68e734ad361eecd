// Periodic jobs in the job store: each due tick yields at most one child, whatever the leader
// proposes and however often the log is applied (a new leader deciding from a stale state, a
// replayed log, a snapshot install), and skipped or missed ticks are recorded the same way.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "jobs/job_store.h"
#include "jobs/periodic.h"

namespace nomad::jobs {
namespace {

constexpr int64_t kStart = 1'800'000'000'000;  // 2027-01-15, a whole second

// The replicated log as these tests build it: each command is an entry.
struct Log {
  std::vector<raft::Entry> entries;
  raft::Entry& append(const nomad_lite::Command& command) {
    raft::Entry e;
    e.term = 1;
    e.index = entries.size() + 1;
    e.data = command.SerializeAsString();
    entries.push_back(e);
    return entries.back();
  }
};

nomad_lite::PeriodicJob every_second(const std::string& id, nomad_lite::OverlapPolicy overlap,
                                     nomad_lite::CatchUpPolicy catch_up) {
  nomad_lite::PeriodicJob p;
  p.set_id(id);
  p.mutable_child()->set_command("echo tick");
  p.mutable_child()->set_timeout_ms(5000);
  p.mutable_child()->set_retries(2);
  (*p.mutable_child()->mutable_env())["A"] = "1";
  p.set_every_ms(1000);
  p.set_overlap(overlap);
  p.set_catch_up(catch_up);
  p.set_created_at_ms(kStart);
  return p;
}

nomad_lite::Command create(const nomad_lite::PeriodicJob& p) {
  nomad_lite::Command c;
  *c.mutable_periodic_create() = p;
  return c;
}

nomad_lite::Command control(const std::string& id, nomad_lite::PeriodicAction action,
                            int64_t at_ms) {
  nomad_lite::Command c;
  c.mutable_periodic_control()->set_periodic_id(id);
  c.mutable_periodic_control()->set_action(action);
  c.mutable_periodic_control()->set_at_ms(at_ms);
  return c;
}

nomad_lite::Command finish(const std::string& job_id, int exit_code, int64_t at_ms) {
  nomad_lite::Command c;
  auto* u = c.mutable_updates();
  u->set_at_ms(at_ms);
  auto* a = u->add_assign();
  a->set_job_id(job_id);
  a->set_attempt(1);
  a->set_node_id(1);
  auto* f = u->add_finished();
  f->set_job_id(job_id);
  f->set_attempt(1);
  f->set_node_id(1);
  f->set_at_ms(at_ms);
  f->set_exit_code(exit_code);
  return c;
}

// The leader's turn at `now_ms`: decides from `store` (its applied state), appends the
// decisions to the log, and applies them to `store` as the commit would.
void leader_turn(JobStore& store, Log& log, const std::string& id, int64_t now_ms,
                 bool apply = true) {
  const nomad_lite::PeriodicJob* p = store.find_periodic(id);
  ASSERT_NE(p, nullptr);
  for (const auto& ticks : decide_ticks(*p, now_ms)) {
    nomad_lite::Command c;
    *c.mutable_periodic_ticks() = ticks;
    raft::Entry& e = log.append(c);
    if (apply) store.apply(e);
  }
}

// Children of `id` in the store, by tick.
std::map<int64_t, std::string> children(const JobStore& store, const std::string& id) {
  std::map<int64_t, std::string> out;
  ListQuery all;
  all.limit = 100'000;
  for (const auto& job : store.list(all).jobs) {
    if (job.periodic_id() != id) continue;
    EXPECT_TRUE(out.emplace(job.tick_ms(), job.id()).second)
        << "two children of tick " << job.tick_ms();
  }
  return out;
}

JobStore apply_all(const Log& log) {
  JobStore store;
  for (const auto& e : log.entries) store.apply(e);
  return store;
}

TEST(PeriodicStore, EachDueTickLaunchesOneChildNamedByItsTick) {
  JobStore store;
  Log log;
  auto p = every_second("p-1", nomad_lite::OVERLAP_ALLOW, nomad_lite::CATCH_UP_ALL);
  ASSERT_TRUE(store.apply(log.append(create(p))).status);
  leader_turn(store, log, "p-1", kStart + 3500);
  auto kids = children(store, "p-1");
  ASSERT_EQ(kids.size(), 3u);
  EXPECT_EQ(kids.begin()->first, kStart + 1000);
  const nomad_lite::Job* child = store.find(tick_child_id("p-1", kStart + 1000));
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->command(), "echo tick");
  EXPECT_EQ(child->timeout_ms(), 5000u);
  EXPECT_EQ(child->retries(), 2u);
  EXPECT_EQ(child->env().at("A"), "1");
  EXPECT_EQ(child->periodic_id(), "p-1");
  EXPECT_EQ(child->status(), nomad_lite::JOB_STATUS_PENDING);
  EXPECT_EQ(store.find_periodic("p-1")->last_tick_ms(), kStart + 3000);
  EXPECT_EQ(*next_run_ms(*store.find_periodic("p-1")), kStart + 4000);
  // The same moment again: nothing is due any more.
  EXPECT_TRUE(decide_ticks(*store.find_periodic("p-1"), kStart + 3500).empty());
}

TEST(PeriodicStore, TheSameDecisionAppliedTwiceLaunchesNothingTheSecondTime) {
  JobStore store;
  Log log;
  store.apply(
      log.append(create(every_second("p-1", nomad_lite::OVERLAP_ALLOW, nomad_lite::CATCH_UP_ALL))));
  auto decisions = decide_ticks(*store.find_periodic("p-1"), kStart + 1200);
  ASSERT_EQ(decisions.size(), 1u);
  nomad_lite::Command c;
  *c.mutable_periodic_ticks() = decisions[0];
  EXPECT_TRUE(store.apply(log.append(c)).status);
  ApplyResult again = store.apply(log.append(c));  // a retried proposal, at a later index
  EXPECT_FALSE(again.status);
  EXPECT_NE(again.status.message().find("already handled"), std::string::npos);
  EXPECT_EQ(children(store, "p-1").size(), 1u);
}

TEST(PeriodicStore, LeadersDecidingFromStaleStatesNeverLaunchATickTwice) {
  // Three leaders in turn; each decides from the state it had applied when it took over, so
  // the later ones propose ticks the earlier ones' entries already handled.
  JobStore leader1, leader2, leader3;
  Log log;
  raft::Entry& c =
      log.append(create(every_second("p-1", nomad_lite::OVERLAP_ALLOW, nomad_lite::CATCH_UP_ALL)));
  for (JobStore* s : {&leader1, &leader2, &leader3}) s->apply(c);
  leader_turn(leader1, log, "p-1", kStart + 2100);  // ticks 1, 2
  leader2.apply(log.entries[1]);                    // leader 2 saw tick 1 only
  leader_turn(leader2, log, "p-1", kStart + 4100);  // proposes 2 (again), 3, 4
  leader_turn(leader3, log, "p-1", kStart + 5100);  // saw nothing: proposes 1 to 5
  JobStore follower = apply_all(log);
  auto kids = children(follower, "p-1");
  ASSERT_EQ(kids.size(), 5u);
  int64_t expected = kStart + 1000;
  for (const auto& [tick, id] : kids) {
    EXPECT_EQ(tick, expected);
    EXPECT_EQ(id, tick_child_id("p-1", tick));
    expected += 1000;
  }
  EXPECT_EQ(follower.find_periodic("p-1")->launched(), 5u);
}

TEST(PeriodicStore, ASnapshotInstallAndAReplayedLogGiveTheSameChildren) {
  JobStore leader;
  Log log;
  leader.apply(
      log.append(create(every_second("p-1", nomad_lite::OVERLAP_SKIP, nomad_lite::CATCH_UP_ALL))));
  // Ticks 2, 5, 8 run past the next tick (which is skipped); the others end in time.
  std::string lingering;
  for (int second = 1; second <= 10; ++second) {
    const int64_t now = kStart + second * 1000 + 50;
    leader_turn(leader, log, "p-1", now);
    if (!lingering.empty()) leader.apply(log.append(finish(lingering, 0, now)));
    lingering.clear();
    std::string id = tick_child_id("p-1", kStart + second * 1000);
    if (!leader.find(id)) continue;
    if (second % 3 == 2) {
      lingering = id;
    } else {
      leader.apply(log.append(finish(id, 0, now + 10)));
    }
  }
  const std::string snap = leader.snapshot();
  // A node that installs the snapshot, then applies an overlapping stretch of the log again.
  JobStore installed;
  ASSERT_TRUE(installed.restore(snap));
  for (size_t i = log.entries.size() / 2; i < log.entries.size(); ++i) {
    installed.apply(log.entries[i]);
  }
  JobStore replayed = apply_all(log);
  JobStore twice = apply_all(log);
  for (const auto& e : log.entries) twice.apply(e);
  for (const JobStore* s : {&installed, &replayed, &twice}) {
    EXPECT_EQ(children(*s, "p-1"), children(leader, "p-1"));
    const nomad_lite::PeriodicJob* p = s->find_periodic("p-1");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->SerializeAsString(), leader.find_periodic("p-1")->SerializeAsString());
  }
  // Every tick accounted for once: a child or a recorded skip.
  const nomad_lite::PeriodicJob* p = leader.find_periodic("p-1");
  std::set<int64_t> ticks;
  for (const auto& r : p->runs()) EXPECT_TRUE(ticks.insert(r.tick_ms()).second);
  for (const auto& r : p->not_run()) {
    EXPECT_EQ(r.kind(), nomad_lite::PERIODIC_RUN_SKIPPED);
    EXPECT_TRUE(ticks.insert(r.tick_ms()).second);
  }
  EXPECT_EQ(ticks.size(), 10u);
  EXPECT_EQ(p->skipped(), 3u);  // ticks 3, 6, 9
  EXPECT_EQ(p->completed(), 7u);
}

TEST(PeriodicStore, ADecisionPartlyHandledAlreadyTakesOnlyItsNewTicks) {
  // A stale leader's decision: ticks 1 and 2 missed, 3 to run; another leader's entry before
  // it already handled 1 and 2. Tick 3 must still run, or it would be lost.
  JobStore store;
  Log log;
  store.apply(log.append(
      create(every_second("p-1", nomad_lite::OVERLAP_ALLOW, nomad_lite::CATCH_UP_NONE))));
  leader_turn(store, log, "p-1", kStart + 2000);
  nomad_lite::Command stale;
  auto* t = stale.mutable_periodic_ticks();
  t->set_periodic_id("p-1");
  t->add_missed_ms(kStart + 1000);
  t->add_missed_ms(kStart + 2000);
  t->set_run_ms(kStart + 3000);
  EXPECT_TRUE(store.apply(log.append(stale)).status);
  auto kids = children(store, "p-1");
  EXPECT_EQ(kids.size(), 3u);
  EXPECT_EQ(store.find_periodic("p-1")->missed(), 0u);
  EXPECT_EQ(store.find_periodic("p-1")->last_tick_ms(), kStart + 3000);
}

TEST(PeriodicStore, OverlapSkipRecordsTheTickWhileThePreviousChildRuns) {
  JobStore store;
  Log log;
  auto p0 = every_second("p-1", nomad_lite::OVERLAP_SKIP, nomad_lite::CATCH_UP_ALL);
  p0.mutable_child()->set_retries(0);  // its failure below is final
  store.apply(log.append(create(p0)));
  leader_turn(store, log, "p-1", kStart + 1000);
  leader_turn(store, log, "p-1", kStart + 2000);  // tick 1's child still pending: skipped
  store.apply(log.append(finish(tick_child_id("p-1", kStart + 1000), 1, kStart + 2500)));
  leader_turn(store, log, "p-1", kStart + 3000);  // runs
  const nomad_lite::PeriodicJob* p = store.find_periodic("p-1");
  ASSERT_EQ(p->not_run_size(), 1);
  EXPECT_EQ(p->not_run(0).tick_ms(), kStart + 2000);
  EXPECT_EQ(p->not_run(0).kind(), nomad_lite::PERIODIC_RUN_SKIPPED);
  EXPECT_EQ(p->skipped(), 1u);
  EXPECT_EQ(p->failed(), 1u);
  EXPECT_EQ(p->runs(0).status(), nomad_lite::JOB_STATUS_FAILED);
  EXPECT_EQ(children(store, "p-1").size(), 2u);
}

TEST(PeriodicStore, OverlapCancelCancelsThePreviousChildFirst) {
  JobStore store;
  Log log;
  store.apply(log.append(
      create(every_second("p-1", nomad_lite::OVERLAP_CANCEL, nomad_lite::CATCH_UP_ALL))));
  leader_turn(store, log, "p-1", kStart + 1000);
  leader_turn(store, log, "p-1", kStart + 2000);
  EXPECT_EQ(store.find(tick_child_id("p-1", kStart + 1000))->status(),
            nomad_lite::JOB_STATUS_CANCELLED);
  EXPECT_EQ(store.find(tick_child_id("p-1", kStart + 2000))->status(),
            nomad_lite::JOB_STATUS_PENDING);
  EXPECT_EQ(store.find_periodic("p-1")->cancelled_runs(), 1u);
  EXPECT_EQ(store.find_periodic("p-1")->skipped(), 0u);
}

TEST(PeriodicStore, CatchUpRulesAfterTheWholeClusterWasDown) {
  // Down from just after tick 1 until 30.5 s later: ticks 2..31 are due at once.
  struct Case {
    nomad_lite::CatchUpPolicy policy;
    size_t children;
    uint64_t missed;
  };
  for (Case c : {Case{nomad_lite::CATCH_UP_ALL, 31, 0}, Case{nomad_lite::CATCH_UP_LAST, 2 + 10, 19},
                 Case{nomad_lite::CATCH_UP_NONE, 1 + 10, 20}}) {
    SCOPED_TRACE(catch_up_name(c.policy));
    JobStore store;
    Log log;
    store.apply(log.append(create(every_second("p-1", nomad_lite::OVERLAP_ALLOW, c.policy))));
    leader_turn(store, log, "p-1", kStart + 1000);
    leader_turn(store, log, "p-1", kStart + 31'500);
    // Within the 10 s grace ticks 22..31 are on time and run under every rule; of 2..21,
    // "last" runs 21 only and "none" runs none.
    EXPECT_EQ(children(store, "p-1").size(), c.children);
    const nomad_lite::PeriodicJob* p = store.find_periodic("p-1");
    EXPECT_EQ(p->missed(), c.missed);
    EXPECT_EQ(p->last_tick_ms(), kStart + 31'000);
    EXPECT_EQ(p->launched() + p->missed(), 31u);
  }
}

TEST(PeriodicStore, PausedTicksAreNotRunLaterAndCancelStopsTicks) {
  JobStore store;
  Log log;
  store.apply(
      log.append(create(every_second("p-1", nomad_lite::OVERLAP_ALLOW, nomad_lite::CATCH_UP_ALL))));
  leader_turn(store, log, "p-1", kStart + 1000);
  store.apply(log.append(control("p-1", nomad_lite::PERIODIC_PAUSE, kStart + 1100)));
  EXPECT_TRUE(decide_ticks(*store.find_periodic("p-1"), kStart + 5000).empty());
  EXPECT_FALSE(next_run_ms(*store.find_periodic("p-1")));
  store.apply(log.append(control("p-1", nomad_lite::PERIODIC_RESUME, kStart + 5500)));
  leader_turn(store, log, "p-1", kStart + 6000);
  auto kids = children(store, "p-1");
  ASSERT_EQ(kids.size(), 2u);
  EXPECT_EQ(kids.rbegin()->first, kStart + 6000);
  ASSERT_TRUE(
      store.apply(log.append(control("p-1", nomad_lite::PERIODIC_CANCEL, kStart + 6100))).status);
  EXPECT_TRUE(decide_ticks(*store.find_periodic("p-1"), kStart + 9000).empty());
  // A decision made before the cancel applied is refused.
  nomad_lite::Command late;
  late.mutable_periodic_ticks()->set_periodic_id("p-1");
  late.mutable_periodic_ticks()->set_run_ms(kStart + 7000);
  EXPECT_FALSE(store.apply(log.append(late)).status);
  EXPECT_FALSE(store.apply(log.append(control("p-1", nomad_lite::PERIODIC_RESUME, kStart))).status);
  EXPECT_EQ(children(store, "p-1").size(), 2u);
}

TEST(PeriodicStore, RunNowAddsAChildNotTiedToATick) {
  JobStore store;
  Log log;
  store.apply(
      log.append(create(every_second("p-1", nomad_lite::OVERLAP_SKIP, nomad_lite::CATCH_UP_ALL))));
  ApplyResult r = store.apply(log.append(control("p-1", nomad_lite::PERIODIC_RUN_NOW, kStart)));
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.job.id(), run_now_child_id("p-1", 1));
  EXPECT_EQ(r.job.tick_ms(), 0);
  EXPECT_EQ(r.periodic.run_now(), 1u);
  EXPECT_EQ(store.find_periodic("p-1")->last_tick_ms(), kStart);  // ticks are unchanged
}

TEST(PeriodicStore, RetentionKeepsTheLastKeepRunsChildren) {
  JobStore store;
  Log log;
  auto p = every_second("p-1", nomad_lite::OVERLAP_ALLOW, nomad_lite::CATCH_UP_ALL);
  p.set_keep_runs(3);
  store.apply(log.append(create(p)));
  for (int second = 1; second <= 6; ++second) {
    leader_turn(store, log, "p-1", kStart + second * 1000);
    store.apply(log.append(
        finish(tick_child_id("p-1", kStart + second * 1000), 0, kStart + second * 1000 + 10)));
  }
  auto kids = children(store, "p-1");
  ASSERT_EQ(kids.size(), 3u);
  EXPECT_EQ(kids.begin()->first, kStart + 4000);
  EXPECT_EQ(store.find_periodic("p-1")->runs_size(), 3);
  EXPECT_EQ(store.find_periodic("p-1")->completed(), 6u);
}

TEST(PeriodicStore, RemovalTakesOnlyCancelledPeriodicJobsAndLeavesTheirChildren) {
  JobStore store;
  Log log;
  for (const char* id : {"p-1", "p-2"}) {
    store.apply(
        log.append(create(every_second(id, nomad_lite::OVERLAP_ALLOW, nomad_lite::CATCH_UP_ALL))));
    leader_turn(store, log, id, kStart + 1000);
  }
  store.apply(log.append(control("p-1", nomad_lite::PERIODIC_CANCEL, kStart + 1500)));
  const uint64_t version = store.periodic_version();
  nomad_lite::Command remove;
  remove.mutable_remove()->add_periodic_ids("p-1");
  remove.mutable_remove()->add_periodic_ids("p-2");  // active: stays
  remove.mutable_remove()->add_periodic_ids("p-unknown");
  ASSERT_TRUE(store.apply(log.append(remove)).status);
  EXPECT_EQ(store.find_periodic("p-1"), nullptr);
  ASSERT_NE(store.find_periodic("p-2"), nullptr);
  EXPECT_GT(store.periodic_version(), version) << "listeners of periodic jobs must hear of it";
  // Its child is an ordinary job now, left to the jobs' own retention.
  EXPECT_NE(store.find(tick_child_id("p-1", kStart + 1000)), nullptr);
  // Replayed (after a snapshot, or on another node), the log gives the same state.
  JobStore replayed = apply_all(log);
  EXPECT_EQ(replayed.find_periodic("p-1"), nullptr);
  EXPECT_NE(replayed.find_periodic("p-2"), nullptr);
}

TEST(PeriodicStore, CronTicksFollowTheExpressionInItsZone) {
  JobStore store;
  Log log;
  nomad_lite::PeriodicJob p =
      every_second("p-1", nomad_lite::OVERLAP_ALLOW, nomad_lite::CATCH_UP_ALL);
  p.set_every_ms(0);
  p.set_cron("30 2 * * *");  // 02:30 local, skipped on the spring-forward night
  p.set_tz("Europe/Berlin");
  // 2027-03-27 12:00 UTC; the clocks jump 02:00 -> 03:00 on 2027-03-28 (01:00 UTC).
  p.set_created_at_ms(1'806'148'800'000);
  store.apply(log.append(create(p)));
  leader_turn(store, log, "p-1", 1'806'148'800'000 + 2LL * 86'400'000);
  auto kids = children(store, "p-1");
  ASSERT_EQ(kids.size(), 2u);
  // The skipped 02:30 runs when the clocks jump (01:00 UTC), the next at 02:30 CEST (00:30).
  EXPECT_EQ(kids.begin()->first, 1'806'195'600'000);
  EXPECT_EQ(kids.rbegin()->first, 1'806'195'600'000 + 23LL * 3'600'000 + 1'800'000);
}

TEST(PeriodicStore, ARepeatedLocalHourRunsOnce) {
  JobStore store;
  Log log;
  nomad_lite::PeriodicJob p =
      every_second("p-1", nomad_lite::OVERLAP_ALLOW, nomad_lite::CATCH_UP_ALL);
  p.set_every_ms(0);
  p.set_cron("30 2 * * *");  // 02:30 local happens twice on the fall-back night
  p.set_tz("Europe/Berlin");
  p.set_created_at_ms(1'824'897'600'000);  // 2027-10-30 12:00 UTC
  store.apply(log.append(create(p)));
  leader_turn(store, log, "p-1", 1'824'897'600'000 + 2LL * 86'400'000);
  auto kids = children(store, "p-1");
  ASSERT_EQ(kids.size(), 2u);
  // 2027-10-31 02:30 CEST (00:30 UTC), its first occurrence only; then 2027-11-01 02:30 CET.
  EXPECT_EQ(kids.begin()->first, 1'824'942'600'000);
  EXPECT_EQ(kids.rbegin()->first, 1'825'032'600'000);
}

}  // namespace
}  // namespace nomad::jobs
