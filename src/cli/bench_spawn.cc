#include "cli/bench_spawn.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

namespace nomad::cli {

namespace {

// One loop: spawn, wait, again, while the shared budget lasts.
void spawn_loop(const BenchSpawnOptions& options, std::atomic<uint64_t>* budget,
                std::atomic<uint64_t>* spawns, std::atomic<uint64_t>* failed) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {0, 1, 2}) {
    posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  const char* argv[] = {"sh", "-c", options.command.c_str(), nullptr};
  const char* envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", nullptr};
  while (true) {
    uint64_t left = budget->load();
    do {
      if (left == 0) {
        posix_spawn_file_actions_destroy(&actions);
        return;
      }
    } while (!budget->compare_exchange_weak(left, left - 1));
    pid_t pid = -1;
    // posix_spawn takes char* const[] for historical reasons; it does not write to them.
    int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char* const*>(argv),
                         const_cast<char* const*>(envp));
    if (rc != 0) {
      failed->fetch_add(1);
      continue;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    spawns->fetch_add(1);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed->fetch_add(1);
  }
}

}  // namespace

nlohmann::ordered_json bench_spawn_json(const SpawnBenchReport& report) {
  nlohmann::ordered_json j;
  j["spawns"] = report.spawns;
  j["failed"] = report.failed;
  j["parallel"] = report.parallel;
  j["seconds"] = std::round(report.seconds * 1000) / 1000;
  double rate = report.seconds > 0 ? static_cast<double>(report.spawns) / report.seconds : 0;
  j["spawns_per_sec"] = std::round(rate * 10) / 10;
  return j;
}

SpawnBenchReport measure_spawns(const BenchSpawnOptions& options) {
  std::atomic<uint64_t> budget{options.count}, spawns{0}, failed{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> loops;
  for (int i = 0; i < options.parallel; ++i) {
    loops.emplace_back(spawn_loop, std::cref(options), &budget, &spawns, &failed);
  }
  for (auto& t : loops) t.join();
  SpawnBenchReport report;
  report.spawns = spawns.load();
  report.failed = failed.load();
  report.parallel = options.parallel;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

int run_bench_spawn(const BenchSpawnOptions& options, std::ostream& out, std::ostream& err) {
  SpawnBenchReport report = measure_spawns(options);
  out << bench_spawn_json(report).dump() << "\n";
  if (report.failed > 0) {
    err << report.failed << " of " << options.count
        << " processes failed to start or exited other than 0 (is /bin/sh there, and does "
           "the command succeed on its own?)\n";
  }
  return report.spawns > report.failed ? 0 : 1;
}

}  // namespace nomad::cli
