// A full disk on one node of a real three-node cluster: each node's data directory is a small
// tmpfs of its own, and the test fills one of them. The others keep acknowledging writes, the
// full node refuses them with an error that says so (stepping down if it led), and once the
// space is freed it catches up by itself, with a WAL a restart reads back.
//
// Mounting needs CAP_SYS_ADMIN (CI runs as root); without it the tests skip and say why.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "cluster_harness.h"

namespace nomad::testing {
namespace {

// A tmpfs mounted on each node's data directory, unmounted (lazily: the servers may still
// hold files open) when the test ends.
class SmallDisks {
 public:
  bool mount_all(TestCluster& c, const std::string& size, std::string* why) {
    for (uint64_t id : c.ids()) {
      const std::string& dir = c.member(id).data_dir;
      std::filesystem::create_directories(dir);
      if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                  ("size=" + size + ",mode=0755").c_str()) != 0) {
        *why = "cannot mount a tmpfs on " + dir + " (" + strerror(errno) +
               "); these tests need CAP_SYS_ADMIN, as in CI";
        return false;
      }
      mounted_.push_back(dir);
    }
    return true;
  }
  ~SmallDisks() {
    for (const auto& dir : mounted_) ::umount2(dir.c_str(), MNT_DETACH);
  }

 private:
  std::vector<std::string> mounted_;
};

// Writes a file in `dir` until the file system is full, down to the last byte; returns the
// bytes written. (Files' partly used last pages still take a few more bytes each.)
size_t fill(const std::string& dir) {
  int fd = ::open((dir + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return 0;
  const std::string block(64 << 10, 'f');
  size_t written = 0;
  for (size_t size : {block.size(), size_t{4096}, size_t{1}}) {
    for (int i = 0; i < 100000; ++i) {
      ssize_t n = ::write(fd, block.data(), size);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  return written;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

nomad_lite::SubmitJobRequest request(const std::string& key) {
  nomad_lite::SubmitJobRequest r;
  r.set_command("echo " + key);
  r.set_idempotency_key(key);
  return r;
}

bool lists_all(TestCluster& c, uint64_t id, const std::set<std::string>& expected) {
  auto listed = c.job_ids(id);
  if (!listed) return false;
  std::set<std::string> have(listed->begin(), listed->end());
  return std::includes(have.begin(), have.end(), expected.begin(), expected.end());
}

// Fills the disk of `victim_of(leader)` and checks the whole story. Returns the victim.
void run_disk_full(bool fill_leader) {
  // Frequent snapshots: some are attempted while the disk is full.
  TestCluster c(3, {"--snapshot-entries", "10"}, /*dashboards=*/true);
  SmallDisks disks;
  std::string why;
  if (!disks.mount_all(c, "4m", &why)) GTEST_SKIP() << why;
  c.start_all();
  const uint64_t leader = c.wait_for_leader();
  ASSERT_NE(leader, 0u) << "no leader; logs in " << c.root();
  const uint64_t victim = fill_leader ? leader : (leader % 3) + 1;
  const std::string data_dir = c.member(victim).data_dir;

  std::set<std::string> acknowledged;
  nomad_lite::Job job;
  for (int i = 0; i < 5; ++i) {
    grpc::Status s = c.submit_to_leader(request("before-" + std::to_string(i)), &job, 10s, leader);
    ASSERT_TRUE(s.ok()) << s.error_message();
    acknowledged.insert(job.id());
  }

  ASSERT_GT(fill(data_dir), 0u);
  auto filled = std::chrono::steady_clock::now();

  // The majority keeps acknowledging writes. The full node notices at its first write that
  // does not fit (its own proposal as leader, entries from the leader as follower); a leader
  // steps down and the client follows to the new one.
  const std::string noticed = "disk full in";
  int during = 0;
  double slowest_s = 0;  // the longest a write waited: the leader's step-down shows here
  for (; during < 300 && count(read_text(c.member(victim).log), noticed) == 0; ++during) {
    auto start = std::chrono::steady_clock::now();
    grpc::Status s =
        c.submit_to_leader(request("during-" + std::to_string(during)), &job, 15s, leader);
    slowest_s = std::max(
        slowest_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    ASSERT_TRUE(s.ok()) << "write " << during << " while node " << victim
                        << " is full: " << s.error_message() << "; logs in " << c.root();
    acknowledged.insert(job.id());
  }
  ASSERT_GT(count(read_text(c.member(victim).log), noticed), 0u)
      << "node " << victim << " never noticed its full disk; logs in " << c.root();
  for (int i = 0; i < 10; ++i, ++during) {
    auto start = std::chrono::steady_clock::now();
    grpc::Status s =
        c.submit_to_leader(request("during-" + std::to_string(during)), &job, 15s, leader);
    slowest_s = std::max(
        slowest_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    ASSERT_TRUE(s.ok()) << "write " << during << " after node " << victim
                        << " noticed its full disk: " << s.error_message();
    acknowledged.insert(job.id());
  }
  std::printf(
      "[ figures  ] node %llu full: %d writes acknowledged in %.2f s, the slowest in %.3f s\n",
      static_cast<unsigned long long>(victim), during,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - filled).count(), slowest_s);

  grpc::Status refused = c.submit(victim, "echo refused", nullptr);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_NE(
      refused.error_message().find("node " + std::to_string(victim) + ": disk full in " + data_dir),
      std::string::npos)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("resumes by itself"), std::string::npos);
  httplib::Client http("127.0.0.1", c.member(victim).dashboard_port);
  http.set_read_timeout(10s);
  auto answer = http.Post("/api/jobs", R"({"command": "echo refused"})", "application/json");
  ASSERT_TRUE(answer) << "no HTTP answer from node " << victim;
  EXPECT_EQ(answer->status, 503) << answer->body;
  EXPECT_NE(answer->body.find("disk full in " + data_dir), std::string::npos) << answer->body;
  // A load balancer takes it out: it knows no leader while it listens to none (within an
  // election timeout of the full disk; the refusal above no longer waits that long).
  std::string ready_body;
  EXPECT_TRUE(wait_until(
      [&] {
        auto ready = http.Get("/health/ready");
        if (ready) ready_body = ready->body;
        return ready && ready->status == 503;
      },
      10s))
      << "/health/ready of the full node still answers: " << ready_body;
  auto status = c.status(victim);
  ASSERT_TRUE(status);
  EXPECT_NE(status->role(), "leader");
  // The two healthy nodes agree on a leader among themselves (the full node knows of none).
  EXPECT_TRUE(wait_until(
      [&] {
        uint64_t agreed = 0;
        for (uint64_t id : c.ids()) {
          if (id == victim) continue;
          auto st = c.status(id);
          if (!st || st->leader_id() == 0 || st->leader_id() == victim) return false;
          if (agreed != 0 && st->leader_id() != agreed) return false;
          agreed = st->leader_id();
        }
        return true;
      },
      10s))
      << "the two healthy nodes did not agree on a new leader";
  // A few more writes to the full node: still one line in its log for the whole episode.
  for (int i = 0; i < 3; ++i) c.submit(victim, "echo refused", nullptr);
  EXPECT_EQ(count(read_text(c.member(victim).log), "disk full in"), 1u);
  EXPECT_TRUE(c.running(victim));

  // Space returns: the node notices within its probe interval and catches up by itself.
  std::filesystem::remove(data_dir + "/filler");
  auto freed = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return lists_all(c, victim, acknowledged); }, 20s))
      << "node " << victim << " did not catch up after space returned; logs in " << c.root();
  std::printf("[ figures  ] node %llu caught up %.2f s after space was freed\n",
              static_cast<unsigned long long>(victim),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - freed).count());
  EXPECT_EQ(count(read_text(c.member(victim).log), "again after"), 1u);
  grpc::Status s = c.submit_to_leader(request("after"), &job, 10s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  acknowledged.insert(job.id());
  EXPECT_TRUE(wait_until([&] { return lists_all(c, victim, acknowledged); }, 10s));

  // Its WAL is whole: a restart recovers it (it would refuse to start on damage).
  c.kill(victim, SIGKILL);
  c.start(victim);
  EXPECT_TRUE(wait_until([&] { return lists_all(c, victim, acknowledged); }, 20s))
      << "node " << victim << " did not recover after a restart; logs in " << c.root();
  EXPECT_EQ(count(read_text(c.member(victim).log), "is damaged"), 0u);
  EXPECT_EQ(count(read_text(c.member(victim).log), "storage failure"), 0u);
  for (auto& f : std::filesystem::directory_iterator(data_dir + "/snap")) {
    EXPECT_NE(f.path().extension(), ".tmp") << "a failed snapshot left " << f.path();
  }
}

TEST(DiskFull, AFullLeaderStepsDownRefusesWritesAndCatchesUpWhenSpaceReturns) {
  run_disk_full(/*fill_leader=*/true);
}

TEST(DiskFull, AFullFollowerRefusesWritesWhileTheMajorityGoesOn) {
  run_disk_full(/*fill_leader=*/false);
}

}  // namespace
}  // namespace nomad::testing
