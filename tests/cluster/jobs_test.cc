// Jobs actually running on a real 3-node cluster (nomad-lite server processes on 127.0.0.1):
// they complete, fail, time out, are cancelled, are retried, and survive losing the node that
// runs them and the leader. Every wait is a poll for a condition with a deadline.

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

#include "cluster_harness.h"

namespace nomad::testing {
namespace {

using nomad_lite::Job;
using nomad_lite::SubmitJobRequest;

// Workers with slots, and short timeouts so that losses and kills are quick.
std::vector<std::string> job_flags(int slots = 4) {
  return {"--worker-slots", std::to_string(slots), "--worker-timeout", "2s", "--kill-grace",
          "500ms"};
}

SubmitJobRequest request(const std::string& command, const std::string& key = "") {
  SubmitJobRequest r;
  r.set_command(command);
  r.set_idempotency_key(key);
  return r;
}

// A started cluster with an agreed leader, plus a directory for the jobs' own files.
struct JobCluster {
  explicit JobCluster(size_t nodes = 3, std::vector<std::string> flags = job_flags())
      : c(nodes, std::move(flags)) {
    c.start_all();
    leader = c.wait_for_leader();
    dir = c.root() + "/work";
    std::filesystem::create_directories(dir);
    // The jobs' own files: jobs run as nobody (a root server's default job user).
    std::filesystem::permissions(dir, std::filesystem::perms::all);
  }
  // Submits (following the leader) and returns the acknowledged job; fails the test if not.
  Job submit(SubmitJobRequest r) {
    static std::atomic<int> n{0};
    if (r.idempotency_key().empty()) r.set_idempotency_key("test-" + std::to_string(++n));
    Job job;
    grpc::Status s = c.submit_to_leader(r, &job, 30s, leader);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return job;
  }
  std::optional<Job> wait_final(const std::string& id, std::chrono::milliseconds timeout = 20s) {
    return c.wait_for_job(
        id, [](const Job& j) { return is_final(j.status()); }, timeout);
  }
  std::optional<Job> wait_started(const std::string& id, std::chrono::milliseconds timeout = 20s) {
    return c.wait_for_job(
        id,
        [](const Job& j) {
          return j.status() == nomad_lite::JOB_STATUS_RUNNING && j.attempts_size() > 0 &&
                 j.attempts(j.attempts_size() - 1).started_at_ms() != 0;
        },
        timeout);
  }
  // Runs small jobs until every node has run one: every worker has reported to the leader,
  // so placement sees the whole cluster (at first the leader knows only its own worker).
  bool wait_for_workers() {
    std::set<uint64_t> ran;
    return wait_until(
        [&] {
          auto j = wait_final(submit(request("true")).id());
          if (j && j->attempts_size() > 0)
            ran.insert(j->attempts(j->attempts_size() - 1).node_id());
          for (uint64_t id : c.ids()) {
            if (c.running(id) && !ran.count(id)) return false;
          }
          return true;
        },
        20s);
  }

  TestCluster c;
  uint64_t leader = 0;
  std::string dir;
};

std::string describe(const Job& j) {
  std::string s = "job " + j.id() + " status " + std::to_string(j.status()) + " reason '" +
                  j.reason() + "' exit " +
                  (j.has_exit_code() ? std::to_string(j.exit_code()) : "-") + " error '" +
                  j.error() + "' attempts:";
  for (const auto& a : j.attempts()) {
    s += " [#" + std::to_string(a.number()) + " node " + std::to_string(a.node_id()) + " status " +
         std::to_string(a.status()) + " reason '" + a.reason() + "']";
  }
  return s;
}

auto since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t);
}

// 1. Many short jobs all complete with their own output, spread over every node.
TEST(Jobs, ThreeHundredJobsCompleteWithTheirOutputOnEveryNode) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  ASSERT_TRUE(jc.wait_for_workers());
  constexpr int kJobs = 300, kThreads = 10;
  std::vector<std::string> ids(kJobs);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kJobs; i += kThreads) {
        Job job;
        auto s =
            jc.c.submit_to_leader(request("echo " + std::to_string(i), "many-" + std::to_string(i)),
                                  &job, 30s, jc.leader);
        if (s.ok()) ids[i] = job.id();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kJobs; ++i)
    ASSERT_FALSE(ids[i].empty()) << "job " << i << " not acknowledged";

  std::vector<Job> done;
  bool all = wait_until(
      [&] {
        uint64_t leader = jc.c.agreed_leader();
        if (!leader) return false;
        auto listed = jc.c.jobs(leader);
        if (!listed) return false;
        std::set<std::string> mine(ids.begin(), ids.end());
        done.clear();
        for (const auto& j : *listed) {
          if (!mine.count(j.id())) continue;  // the warm-up jobs
          if (!is_final(j.status())) return false;
          done.push_back(j);
        }
        return done.size() == mine.size();
      },
      60s);
  ASSERT_TRUE(all) << "not every job finished; logs in " << jc.c.root();
  ASSERT_EQ(done.size(), static_cast<size_t>(kJobs));
  std::map<std::string, Job> by_id;
  for (const auto& j : done) by_id[j.id()] = j;
  std::map<uint64_t, int> per_node;
  for (int i = 0; i < kJobs; ++i) {
    const Job& j = by_id.at(ids[i]);
    EXPECT_EQ(j.status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(j);
    EXPECT_EQ(j.stdout_tail(), std::to_string(i) + "\n") << describe(j);
    ASSERT_GE(j.attempts_size(), 1);
    ++per_node[j.attempts(j.attempts_size() - 1).node_id()];
  }
  for (uint64_t id : jc.c.ids()) {
    EXPECT_GE(per_node[id], kJobs * 15 / 100) << "node " << id << " ran only " << per_node[id];
  }
}

// 2. A command that exits 3 fails with that exit code.
TEST(Jobs, AFailingCommandEndsFailedWithItsExitCode) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  Job job = jc.submit(request("echo oops >&2; exit 3"));
  auto j = jc.wait_final(job.id());
  ASSERT_TRUE(j) << "the job did not finish";
  EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_FAILED) << describe(*j);
  EXPECT_EQ(j->reason(), "exit_code");
  ASSERT_TRUE(j->has_exit_code());
  EXPECT_EQ(j->exit_code(), 3);
  EXPECT_EQ(j->stderr_tail(), "oops\n");
  ASSERT_EQ(j->attempts_size(), 1) << describe(*j);
  EXPECT_EQ(j->attempts(0).reason(), "exit_code");
}

// 2b. A submission that asks to wait answers with the final job in the same call; one whose
// wait ends first answers with the job as it is then, not final.
TEST(Jobs, ASubmissionThatWaitsAnswersWithTheFinalJob) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  auto submit = [&](SubmitJobRequest r, nomad_lite::SubmitJobResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    return jc.c.member(jc.leader).stub->SubmitJob(&ctx, r, resp);
  };
  SubmitJobRequest quick = request("echo done; exit 4");
  quick.set_wait_ms(20'000);
  nomad_lite::SubmitJobResponse resp;
  grpc::Status s = submit(quick, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(resp.done());
  EXPECT_EQ(resp.job().status(), nomad_lite::JOB_STATUS_FAILED) << describe(resp.job());
  EXPECT_EQ(resp.job().exit_code(), 4);
  EXPECT_EQ(resp.job().stdout_tail(), "done\n");

  SubmitJobRequest slow = request("sleep 30");
  slow.set_wait_ms(300);
  auto sent = std::chrono::steady_clock::now();
  resp.Clear();
  s = submit(slow, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 10s);
  EXPECT_FALSE(resp.done());
  EXPECT_FALSE(resp.job().id().empty());
  EXPECT_NE(resp.job().status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(resp.job());
  EXPECT_NE(resp.job().status(), nomad_lite::JOB_STATUS_FAILED) << describe(resp.job());

  SubmitJobRequest plain = request("true");  // no wait: answered at once, done stays false
  resp.Clear();
  ASSERT_TRUE(submit(plain, &resp).ok());
  EXPECT_FALSE(resp.done());
}

// 3. A job over its timeout is killed, with its whole process group.
TEST(Jobs, AJobOverItsTimeoutFailsAndItsProcessIsGone) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  // Found by its argument: in a PID namespace of its own the job's $$ is not the host's pid.
  SubmitJobRequest r = request("exec sleep 30.3131");
  r.set_timeout_ms(1000);
  auto t0 = std::chrono::steady_clock::now();
  Job job = jc.submit(r);
  pid_t pid = 0;
  ASSERT_TRUE(wait_until([&] {
    auto found = processes_with("30.3131", "sleep");
    pid = found.empty() ? 0 : found[0];
    return pid > 0;
  })) << "the job never ran";
  auto j = jc.wait_final(job.id(), 10s);
  ASSERT_TRUE(j) << "the job did not finish";
  EXPECT_LT(since(t0).count(), 8000);
  EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_FAILED) << describe(*j);
  EXPECT_EQ(j->reason(), "timeout") << describe(*j);
  EXPECT_GE(j->finished_at_ms() - j->started_at_ms(), 900) << describe(*j);
  EXPECT_TRUE(wait_until([&] { return ::kill(pid, 0) == -1 && errno == ESRCH; }, 5s))
      << "process " << pid << " still exists";
  EXPECT_TRUE(wait_until([&] { return live_processes_in_group(pid).empty(); }, 5s));
  EXPECT_TRUE(wait_until([&] { return processes_with("30.3131").empty(); }, 5s))
      << "a process of the job (or its init) lives on";
}

// 4. Cancelling a running job kills every process in its group.
TEST(Jobs, CancellingARunningJobLeavesNoProcessInItsGroup) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  SubmitJobRequest r = request("sleep 30.4141 & sleep 30.4141; wait");
  Job job = jc.submit(r);
  pid_t pgid = 0;
  ASSERT_TRUE(wait_until([&] {
    auto found = processes_with("30.4141", "sleep");
    pgid = found.empty() ? 0 : group_of(found[0]);
    return pgid > 0;
  })) << "the job never ran";
  // Both sleeps are up before the cancel.
  ASSERT_TRUE(wait_until([&] { return live_processes_in_group(pgid).size() >= 3; }, 5s))
      << live_processes_in_group(pgid).size();
  ASSERT_TRUE(jc.wait_started(job.id()));

  grpc::Status s;
  ASSERT_TRUE(wait_until(
      [&] {
        uint64_t leader = jc.c.agreed_leader();
        if (!leader) return false;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 2s);
        nomad_lite::CancelJobRequest req;
        req.set_job_id(job.id());
        nomad_lite::CancelJobResponse resp;
        s = jc.c.member(leader).stub->CancelJob(&ctx, req, &resp);
        return s.ok();
      },
      10s))
      << s.error_message();

  auto j = jc.wait_final(job.id(), 10s);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_CANCELLED) << describe(*j);
  EXPECT_TRUE(wait_until([&] { return live_processes_in_group(pgid).empty(); }, 5s))
      << live_processes_in_group(pgid).size() << " processes of group " << pgid << " live on";
  EXPECT_TRUE(wait_until([&] { return processes_with("30.4141").empty(); }, 5s))
      << "a process of the job (or its init) lives on";
  // kill(-pgid, 0) may still find zombies here: the sh's background sleep is reparented to
  // PID 1, and a container's PID 1 may never reap it. No process of the group runs, though.
}

// 5. Killing the node that runs a job: the attempt is lost and the job runs again elsewhere;
// jobs on the other nodes are undisturbed. A job on every node, then the runner of one of them
// (a follower, or the leader, whose successor must handle it) is killed with SIGKILL.
void kill_a_runner(bool the_leader) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  ASSERT_TRUE(jc.wait_for_workers());
  // Three jobs spread one per node on an idle cluster; jobs are added (up to nine) only if a
  // node is left without one, which is reported, so that the kill below always has a target.
  std::map<uint64_t, std::string> job_on;  // node -> its first job
  std::vector<uint64_t> placed;
  for (int i = 0; i < 9 && job_on.size() < 3; ++i) {
    std::string id = jc.submit(request("sleep 4; echo finished")).id();
    auto running = jc.wait_started(id);
    ASSERT_TRUE(running) << "a job never started";
    placed.push_back(running->attempts(0).node_id());
    job_on.emplace(placed.back(), id);
  }
  ASSERT_EQ(job_on.size(), 3u) << "no job reached every node";
  if (placed.size() > 3) {
    std::cout << "[ info ] " << placed.size() << " jobs before every node ran one:";
    for (uint64_t node : placed) std::cout << " " << node;
    std::cout << std::endl;
  }
  uint64_t victim = jc.c.wait_for_leader();
  ASSERT_NE(victim, 0u);
  if (!the_leader) victim = victim == 1 ? 2 : 1;
  std::string target = job_on.at(victim);
  jc.c.kill(victim, SIGKILL);
  if (the_leader) {
    ASSERT_NE(jc.c.wait_for_leader(15s, victim), 0u) << "no new leader";
  }

  auto j = jc.wait_final(target, 30s);
  ASSERT_TRUE(j) << "the job did not finish after its node died; logs in " << jc.c.root();
  EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*j);
  EXPECT_EQ(j->stdout_tail(), "finished\n");
  ASSERT_EQ(j->attempts_size(), 2) << describe(*j);
  EXPECT_EQ(j->attempts(0).number(), 1u);
  EXPECT_EQ(j->attempts(0).node_id(), victim);
  EXPECT_EQ(j->attempts(0).status(), nomad_lite::JOB_STATUS_FAILED);
  EXPECT_EQ(j->attempts(0).reason(), "lost");
  EXPECT_EQ(j->attempts(1).number(), 2u);
  EXPECT_NE(j->attempts(1).node_id(), victim);
  EXPECT_EQ(j->attempts(1).status(), nomad_lite::JOB_STATUS_COMPLETED);
  EXPECT_EQ(j->node_id(), j->attempts(1).node_id());
  for (const auto& [node, id] : job_on) {
    if (node == victim) continue;
    auto other = jc.wait_final(id, 30s);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*other);
    EXPECT_EQ(other->attempts_size(), 1)
        << "a job on a surviving node was disturbed: " << describe(*other);
  }
}

TEST(Jobs, AJobOnAKilledFollowerIsRerunElsewhereAndCompletes) { kill_a_runner(false); }

TEST(Jobs, AJobOnAKilledLeaderIsRerunElsewhereAndCompletes) { kill_a_runner(true); }

// 6. Killing the leader while 100 jobs are being submitted and run loses none of them.
TEST(Jobs, KillingTheLeaderMidRunLosesNoAcknowledgedJob) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  ASSERT_TRUE(jc.wait_for_workers());
  constexpr int kJobs = 100, kThreads = 5;
  std::mutex mu;
  std::map<int, std::string> acked;  // job number -> id
  std::atomic<int> acked_count{0};
  // The first half is submitted at once; the second as the leader is killed.
  std::atomic<bool> second_half{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kJobs; i += kThreads) {
        if (i >= kJobs / 2) {
          wait_until([&] { return second_half.load(); }, 60s);
        }
        Job job;
        auto s = jc.c.submit_to_leader(
            request("sleep 0.5; echo " + std::to_string(i), "leader-loss-" + std::to_string(i)),
            &job, 40s, jc.leader);
        if (!s.ok()) continue;
        std::lock_guard lock(mu);
        acked[i] = job.id();
        ++acked_count;
      }
    });
  }
  // Kill the leader with jobs acknowledged, some running on the leader itself, and the second
  // half being submitted.
  bool midway = wait_until(
      [&] {
        if (acked_count < kJobs / 2) return false;
        auto listed = jc.c.jobs(jc.leader, nomad_lite::JOB_STATUS_RUNNING);
        return listed && std::any_of(listed->begin(), listed->end(),
                                     [&](const Job& j) { return j.node_id() == jc.leader; });
      },
      30s);
  second_half = true;
  jc.c.kill(jc.leader, SIGKILL);
  for (auto& t : threads) t.join();
  ASSERT_TRUE(midway) << "the run never got going";
  EXPECT_EQ(acked.size(), static_cast<size_t>(kJobs)) << "submissions not acknowledged";
  std::set<std::string> distinct;
  for (const auto& [i, id] : acked) distinct.insert(id);
  EXPECT_EQ(distinct.size(), acked.size());

  uint64_t next = jc.c.wait_for_leader(15s, jc.leader);
  ASSERT_NE(next, 0u) << "no new leader; logs in " << jc.c.root();
  auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, Job> final_jobs;
  bool all_final = wait_until(
      [&] {
        uint64_t leader = jc.c.agreed_leader();
        if (!leader) return false;
        auto listed = jc.c.jobs(leader);
        if (!listed) return false;
        std::map<std::string, Job> by_id;
        for (auto& j : *listed) by_id[j.id()] = j;
        for (const auto& [i, id] : acked) {
          auto it = by_id.find(id);
          if (it == by_id.end() || !is_final(it->second.status())) return false;
        }
        final_jobs = std::move(by_id);
        return true;
      },
      60s);
  ASSERT_TRUE(all_final) << "acknowledged jobs still not final after " << since(t0).count()
                         << " ms; logs in " << jc.c.root();
  int lost_and_rerun = 0;
  for (const auto& [i, id] : acked) {
    const Job& j = final_jobs.at(id);
    EXPECT_EQ(j.status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(j);
    EXPECT_EQ(j.stdout_tail(), std::to_string(i) + "\n") << describe(j);
    lost_and_rerun += j.attempts_size() > 1;
  }
  // Jobs acknowledged are exactly the jobs there are: no duplicate from a retried submission.
  size_t ours = std::count_if(final_jobs.begin(), final_jobs.end(), [](const auto& kv) {
    return kv.second.command().rfind("sleep 0.5; ", 0) == 0;
  });
  EXPECT_EQ(ours, static_cast<size_t>(kJobs));
  std::cout << "[ info ] " << lost_and_rerun << " jobs lost with the leader and run again; "
            << "all final " << since(t0).count() << " ms after the new leader was agreed\n";
}

// 7. `job wait` and `job submit --wait` exit with the job's exit code.
// 6. A paused node (SIGSTOP) that runs a job: the job is stopped by that node's own lease
// watchdog once its lease runs out, before the leader declares the attempt lost and starts
// attempt 2 elsewhere; the two attempts never run at once. Both attempts write a line per
// 20 ms with their number and the time; attempt 1's last line comes before attempt 2's first.
TEST(Jobs, APausedNodesAttemptStopsBeforeTheNextAttemptStarts) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  ASSERT_TRUE(jc.wait_for_workers());
  const std::string beats = jc.dir + "/beats";
  // Runs about 6 s, then ends: attempt 2 completes the job.
  std::string id = jc.submit(request("end=$(($(date +%s) + 6)); while [ $(date +%s) -lt $end ]; "
                                     "do echo \"$NOMAD_LITE_ATTEMPT $(date +%s%N)\" >> " +
                                     beats + "; sleep 0.02; done"))
                       .id();
  auto running = jc.wait_started(id);
  ASSERT_TRUE(running) << "the job never started";
  const uint64_t victim = running->attempts(0).node_id();
  const uint64_t observer = victim == 1 ? 2 : 1;
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(beats); }, 10s));
  const pid_t victim_pid = jc.c.member(victim).pid;
  ASSERT_GT(victim_pid, 0);
  ::kill(victim_pid, SIGSTOP);
  const auto stopped_at = std::chrono::system_clock::now();

  std::optional<Job> again;
  wait_until(
      [&] {
        again = jc.c.job(observer, id);
        return again && again->attempts_size() >= 2 && again->attempts(1).started_at_ms() != 0;
      },
      30s);
  ::kill(victim_pid, SIGCONT);
  ASSERT_TRUE(again && again->attempts_size() >= 2) << "no second attempt; logs in " << jc.c.root();
  EXPECT_EQ(again->attempts(0).reason(), "lost") << describe(*again);
  EXPECT_NE(again->attempts(1).node_id(), victim);

  auto done = jc.wait_final(id, 30s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*done);

  // Each attempt's first and last line.
  std::map<uint32_t, std::pair<int64_t, int64_t>> span;
  std::ifstream in(beats);
  uint32_t attempt = 0;
  int64_t ns = 0;
  while (in >> attempt >> ns) {
    auto [it, fresh] = span.try_emplace(attempt, ns, ns);
    it->second.first = std::min(it->second.first, ns);
    it->second.second = std::max(it->second.second, ns);
  }
  ASSERT_TRUE(span.count(1) && span.count(2)) << "both attempts should have written";
  const int64_t gap_ms = (span[2].first - span[1].second) / 1'000'000;
  std::cout << "[ info ] attempt 1 last wrote " << gap_ms << " ms before attempt 2 first did"
            << std::endl;
  EXPECT_GT(span[2].first, span[1].second) << "the attempts overlapped by " << -gap_ms << " ms";
  // Stopped by its own node while that node was still paused: within the lease (1 s with
  // --worker-timeout 2s) and the grace (500 ms) of the pause, with room for a slow machine.
  const int64_t stopped_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(stopped_at.time_since_epoch()).count();
  EXPECT_LT((span[1].second - stopped_ns) / 1'000'000, 2500)
      << "attempt 1 ran on long after its node was paused";
}

TEST(Jobs, TheCliExitsWithTheJobsExitCode) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  Job five = jc.submit(request("exit 5"));
  SubmitJobRequest slow = request("sleep 30");
  slow.set_timeout_ms(1000);
  Job timed_out = jc.submit(slow);

  RunResult r = jc.c.cli({"job", "wait", "--timeout", "20s", five.id()});
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  r = jc.c.cli({"job", "wait", "--timeout", "20s", timed_out.id()});
  EXPECT_EQ(r.exit_code, 124) << r.out << r.err;
  r = jc.c.cli({"job", "submit", "--wait", "--", "sh", "-c", "exit 4"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  r = jc.c.cli({"job", "submit", "--wait", "--", "echo", "fine"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// 8. `job logs -f` on a node that does not run the job shows each line as the job prints it.
TEST(Jobs, FollowingLogsFromAnotherNodeShowsLinesAsTheyArePrinted) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  SubmitJobRequest r =
      request("echo line1; while [ ! -e \"$DIR/go\" ]; do sleep 0.05; done; echo line2");
  r.mutable_env()->insert({"DIR", jc.dir});
  Job job = jc.submit(r);
  auto running = jc.wait_started(job.id());
  ASSERT_TRUE(running);
  uint64_t runner = running->attempts(0).node_id();
  uint64_t other = runner == 1 ? 2 : 1;

  Subprocess logs(
      {NOMAD_LITE_BIN, "--addr", jc.c.addr_flag({other}), "job", "logs", "-f", job.id()});
  ASSERT_TRUE(logs.read_until("line1\n", 15s)) << "got '" << logs.out() << "' " << logs.err();
  EXPECT_EQ(logs.out(), "line1\n");  // line2 cannot have been printed yet
  // Only now may the job go on.
  std::ofstream(jc.dir + "/go").put('\n');
  ASSERT_TRUE(logs.read_until("line2\n", 15s)) << "got '" << logs.out() << "' " << logs.err();
  EXPECT_TRUE(logs.read_to_eof(15s)) << "logs -f did not end with the job";
  EXPECT_EQ(logs.out(), "line1\nline2\n");
  EXPECT_EQ(logs.wait(10s), std::optional<int>(0)) << logs.err();
  auto j = jc.wait_final(job.id());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*j);
}

// 9. --retries 2: two failures, then success on the third attempt, after 1 s and 2 s backoffs.
TEST(Jobs, RetriesRunAFailingJobAgainUntilItSucceeds) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  SubmitJobRequest r = request(
      "n=$(cat \"$DIR/count\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > \"$DIR/count\"; "
      "echo attempt $n; [ $n -ge 3 ]");
  r.set_retries(2);
  r.mutable_env()->insert({"DIR", jc.dir});
  Job job = jc.submit(r);
  auto j = jc.wait_final(job.id(), 30s);
  ASSERT_TRUE(j) << "the job did not finish";
  EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*j);
  EXPECT_EQ(j->stdout_tail(), "attempt 3\n");
  ASSERT_EQ(j->attempts_size(), 3) << describe(*j);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(j->attempts(i).status(), nomad_lite::JOB_STATUS_FAILED) << describe(*j);
    EXPECT_EQ(j->attempts(i).reason(), "exit_code");
    EXPECT_EQ(j->attempts(i).exit_code(), 1);
  }
  EXPECT_EQ(j->attempts(2).status(), nomad_lite::JOB_STATUS_COMPLETED);
  // The backoffs: 1 s before attempt 2, 2 s before attempt 3 (same machine, same clock).
  EXPECT_GE(j->attempts(1).assigned_at_ms() - j->attempts(0).finished_at_ms(), 1000 - 50)
      << describe(*j);
  EXPECT_GE(j->attempts(2).assigned_at_ms() - j->attempts(1).finished_at_ms(), 2000 - 50)
      << describe(*j);
  EXPECT_EQ(read_file(jc.dir + "/count"), "3\n");
}

// 10. The same idempotency key gives the same job, which runs once.
TEST(Jobs, TheSameIdempotencyKeyGivesOneJobThatRunsOnce) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  uint64_t leader = jc.leader;
  SubmitJobRequest r = request("echo run >> \"$DIR/runs\"");
  r.mutable_env()->insert({"DIR", jc.dir});
  r.set_idempotency_key("once-only");
  Job first, second, third;
  ASSERT_TRUE(jc.c.submit(leader, r, &first).ok());
  ASSERT_TRUE(jc.c.submit(leader, r, &second).ok());
  EXPECT_EQ(first.id(), second.id());

  // A follower refuses the write and names the leader; there the key finds the first job.
  uint64_t follower = leader == 1 ? 2 : 1;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  nomad_lite::SubmitJobResponse resp;
  grpc::Status s = jc.c.member(follower).stub->SubmitJob(&ctx, r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  auto md = ctx.GetServerTrailingMetadata();
  auto named = md.find("leader-id");
  ASSERT_NE(named, md.end());
  uint64_t told = std::stoull(std::string(named->second.data(), named->second.size()));
  EXPECT_EQ(told, leader);
  ASSERT_TRUE(jc.c.submit(told, r, &third).ok());
  EXPECT_EQ(third.id(), first.id());

  auto j = jc.wait_final(first.id());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*j);
  EXPECT_EQ(j->attempts_size(), 1);
  // Once finished, the key still names it.
  Job fourth;
  ASSERT_TRUE(jc.c.submit_to_leader(r, &fourth, 10s, leader).ok());
  EXPECT_EQ(fourth.id(), first.id());
  EXPECT_EQ(fourth.status(), nomad_lite::JOB_STATUS_COMPLETED);
  auto listed = jc.c.jobs(leader);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 1u);
  EXPECT_EQ(read_file(jc.dir + "/runs"), "run\n");
}

// 11. A node restarted after running jobs serves their full output from its files and runs
// none of them again.
TEST(Jobs, ARestartedNodeKeepsItsJobsOutputAndRerunsNothing) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  ASSERT_TRUE(jc.wait_for_workers());
  constexpr int kJobs = 9;
  std::vector<std::string> ids;
  for (int i = 0; i < kJobs; ++i) {
    SubmitJobRequest r = request("echo out-" + std::to_string(i) + "; echo ran >> \"$DIR/runs-" +
                                 std::to_string(i) + "\"");
    r.mutable_env()->insert({"DIR", jc.dir});
    ids.push_back(jc.submit(r).id());
  }
  std::map<uint64_t, std::vector<int>> ran_on;
  for (int i = 0; i < kJobs; ++i) {
    auto j = jc.wait_final(ids[i]);
    ASSERT_TRUE(j);
    ASSERT_EQ(j->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*j);
    ASSERT_EQ(j->attempts_size(), 1) << describe(*j);
    ran_on[j->attempts(0).node_id()].push_back(i);
  }
  // The follower that ran the most; the leader only if no follower ran any.
  uint64_t victim = 0;
  size_t most = 0;
  for (const auto& [node, jobs] : ran_on) {
    if (node != jc.leader && jobs.size() > most) {
      victim = node;
      most = jobs.size();
    }
  }
  if (victim == 0) victim = jc.leader;
  ASSERT_FALSE(ran_on[victim].empty());
  auto before = jc.c.status(jc.leader);
  ASSERT_TRUE(before);
  jc.c.kill(victim, SIGKILL);
  jc.c.start(victim);
  ASSERT_NE(jc.c.wait_for_leader(20s), 0u);
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = jc.c.status(victim);
        return s && s->applied_index() >= before->commit_index();
      },
      15s))
      << "the restarted node did not catch up";

  for (int i : ran_on[victim]) {
    std::string file = jc.c.member(victim).data_dir + "/jobs/" + ids[i] + ".1.stdout";
    EXPECT_EQ(read_file(file), "out-" + std::to_string(i) + "\n") << file;
    // From the restarted node itself: its own file, at once.
    RunResult r;
    wait_until(
        [&] {  // its gRPC server may still be starting
          r = jc.c.cli({"job", "logs", ids[i]}, {victim});
          return r.exit_code == 0;
        },
        10s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "out-" + std::to_string(i) + "\n");
    EXPECT_EQ(r.err.find("note:"), std::string::npos)
        << "served from the replicated tail, not the file: " << r.err;
    // Through the other nodes, which fetch it from the restarted one (the file, not the tail;
    // how soon is APeerFetchesTheFullOutputAsSoonAsTheRunnerIsBack's concern).
    for (uint64_t via : jc.c.ids()) {
      if (via == victim) continue;
      auto t0 = std::chrono::steady_clock::now();
      bool full = wait_until(
          [&] {
            r = jc.c.cli({"job", "logs", ids[i]}, {via});
            return r.exit_code == 0 && r.err.find("note:") == std::string::npos;
          },
          30s);
      EXPECT_TRUE(full) << "via node " << via << ": " << r.err;
      EXPECT_EQ(r.out, "out-" + std::to_string(i) + "\n") << "via node " << via;
      if (since(t0) > 500ms) {
        std::cout << "[ info ] node " << via << " served only the tail of job " << i << " for "
                  << since(t0).count() << " ms after node " << victim << " was back\n";
      }
    }
  }

  // Barrier: a new job runs to completion on the restarted node, so its worker has acted on
  // the state it recovered; then nothing ran twice.
  bool ran_on_victim = wait_until(
      [&] {
        std::vector<std::string> batch;
        for (int i = 0; i < 3; ++i) batch.push_back(jc.submit(request("true")).id());
        bool any = false;
        for (const auto& id : batch) {
          auto j = jc.wait_final(id);
          if (!j) return false;
          EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*j);
          any = any || j->attempts(j->attempts_size() - 1).node_id() == victim;
        }
        return any;
      },
      20s);
  EXPECT_TRUE(ran_on_victim) << "no new job ran on the restarted node " << victim;
  for (int i = 0; i < kJobs; ++i) {
    EXPECT_EQ(read_file(jc.dir + "/runs-" + std::to_string(i)), "ran\n") << "job " << i;
    auto j = jc.c.job(victim, ids[i]);
    ASSERT_TRUE(j);
    EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*j);
    EXPECT_EQ(j->attempts_size(), 1) << describe(*j);
  }
}

// A node that fetched another's output while that one was down must read it again as soon as
// it is back: the internal channels reconnect within a second, and a fetch waits briefly for
// the connection (before, the peer answered with the replicated tail for a second or more).
TEST(Jobs, APeerFetchesTheFullOutputAsSoonAsTheRunnerIsBack) {
  JobCluster jc;
  ASSERT_NE(jc.leader, 0u);
  Job job = jc.submit(request("echo from-the-file"));
  auto done = jc.wait_final(job.id());
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*done);
  uint64_t runner = done->attempts(0).node_id();
  uint64_t peer = 0;
  for (uint64_t id : jc.c.ids()) {
    if (id != runner && (peer == 0 || id != jc.leader)) peer = id;
  }
  auto l = jc.c.logs(peer, job.id());
  ASSERT_TRUE(l.status.ok()) << l.status.error_message();
  ASSERT_EQ(l.data, "from-the-file\n");
  ASSERT_FALSE(l.tail_only);

  // The runner is down for 6 s, while clients keep asking the peer for the output: the peer
  // rightly serves the replicated tail.
  jc.c.kill(runner, SIGKILL);
  if (runner == jc.leader) {
    ASSERT_NE(jc.c.wait_for_leader(15s, runner), 0u);
  }
  auto down_since = std::chrono::steady_clock::now();
  int asked = 0;
  wait_until(
      [&] {  // this is the outage itself, not a wait for something to happen
        l = jc.c.logs(peer, job.id());
        ++asked;
        EXPECT_TRUE(l.status.ok()) << l.status.error_message();
        EXPECT_EQ(l.data, "from-the-file\n");
        EXPECT_TRUE(l.tail_only);
        return since(down_since) > 3s;
      },
      10s);

  // The runner is back, caught up, and serves its own file.
  jc.c.start(runner);
  uint64_t leader = jc.c.wait_for_leader(15s);
  ASSERT_NE(leader, 0u);
  auto commit = jc.c.status(leader)->commit_index();
  ASSERT_TRUE(wait_until(
      [&] {
        auto st = jc.c.status(runner);
        return st && st->applied_index() >= commit;
      },
      15s));
  l = jc.c.logs(runner, job.id());
  ASSERT_TRUE(l.status.ok()) << l.status.error_message();
  ASSERT_EQ(l.data, "from-the-file\n");
  ASSERT_FALSE(l.tail_only);
  auto back = std::chrono::steady_clock::now();

  // So the peer must fetch the full output from it again.
  l = jc.c.logs(peer, job.id());
  EXPECT_TRUE(l.status.ok()) << l.status.error_message();
  EXPECT_FALSE(l.tail_only) << "node " << peer << " still serves only the tail of node " << runner
                            << "'s output although that node is back and serving it";
  bool full = wait_until(
      [&] {
        l = jc.c.logs(peer, job.id());
        return l.status.ok() && !l.tail_only;
      },
      60s);
  std::cout << "[ info ] node " << peer << " served the tail for " << since(back).count()
            << " ms after node " << runner << " was back (asked " << asked
            << " times during the outage); full output in the end: " << full << "\n";
}

TEST(Jobs, AMemoryHogEndsOomAndEveryAttemptRecordsItsUsage) {
  JobCluster jc(1);
  const std::string log = read_text(jc.c.member(1).log);
  if (log.find("job limits (--cpu, --memory) are enforced") == std::string::npos) {
    GTEST_SKIP() << "the server enforces no limits here (not root, or no writable cgroup fs; "
                    "its log says why)";
  }
  SubmitJobRequest hog = request("head -c 1000M /dev/zero | tail -n 1");
  hog.mutable_resources()->set_memory_bytes(64 << 20);
  hog.set_retries(1);
  auto j = jc.wait_final(jc.submit(hog).id(), 60s);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status(), nomad_lite::JOB_STATUS_FAILED) << describe(*j);
  EXPECT_EQ(j->reason(), "oom") << describe(*j);
  ASSERT_EQ(j->attempts_size(), 2) << describe(*j);  // oom counts against --retries
  for (const auto& a : j->attempts()) {
    EXPECT_EQ(a.reason(), "oom");
    EXPECT_GE(a.peak_memory_bytes(), 56u << 20);
    EXPECT_LE(a.peak_memory_bytes(), 64u << 20);
  }
  EXPECT_EQ(j->resources().memory_bytes(), 64u << 20);

  auto plain = jc.wait_final(
      jc.submit(request("i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done")).id(), 60s);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status(), nomad_lite::JOB_STATUS_COMPLETED) << describe(*plain);
  EXPECT_GT(plain->attempts(0).cpu_time_ms(), 0u);
  EXPECT_GT(plain->attempts(0).peak_memory_bytes(), 0u);
}

}  // namespace
}  // namespace nomad::testing
