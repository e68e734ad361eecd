#include "cli/bench_spawn.h"

#include <gtest/gtest.h>

#include <sstream>

namespace nomad::cli {
namespace {

TEST(BenchSpawn, RunsExactlyTheCountAcrossTheLoops) {
  BenchSpawnOptions options;
  options.parallel = 3;
  options.count = 25;
  SpawnBenchReport report = measure_spawns(options);
  EXPECT_EQ(report.spawns, 25u);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(report.parallel, 3);
  EXPECT_GT(report.seconds, 0);
}

TEST(BenchSpawn, CountsCommandsThatFail) {
  BenchSpawnOptions options;
  options.count = 6;
  options.command = "exit 3";
  std::ostringstream out, err;
  EXPECT_EQ(run_bench_spawn(options, out, err), 1);
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["spawns"], 6);
  EXPECT_EQ(j["failed"], 6);
  EXPECT_NE(err.str().find("6 of 6 processes failed"), std::string::npos) << err.str();
}

TEST(BenchSpawn, JsonHasTheRate) {
  SpawnBenchReport report{.spawns = 300, .failed = 1, .parallel = 2, .seconds = 0.5};
  auto j = bench_spawn_json(report);
  EXPECT_EQ(j.dump(),
            R"({"spawns":300,"failed":1,"parallel":2,"seconds":0.5,"spawns_per_sec":600.0})");
}

}  // namespace
}  // namespace nomad::cli
