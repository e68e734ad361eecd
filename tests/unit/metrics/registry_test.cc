#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

#include "metrics/by_code.h"
#include "metrics/process.h"
#include "metrics/text_format.h"

namespace nomad::metrics {
namespace {

TEST(Render, CounterWithoutLabelsHasHelpTypeAndValue) {
  Registry r;
  r.counter("x_total", "Things that happened.").get().inc(3);
  EXPECT_EQ(r.render(),
            "# HELP x_total Things that happened.\n"
            "# TYPE x_total counter\n"
            "x_total 3\n");
}

TEST(Render, FamiliesAreSortedByNameAndChildrenByLabels) {
  Registry r;
  auto& jobs = r.gauge("b_jobs", "Jobs.", {"status"});
  jobs.with({"running"}).set(2);
  jobs.with({"pending"}).set(1.5);
  r.counter("a_total", "A.").get();
  EXPECT_EQ(r.render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n"
            "# HELP b_jobs Jobs.\n# TYPE b_jobs gauge\n"
            "b_jobs{status=\"pending\"} 1.5\nb_jobs{status=\"running\"} 2\n");
}

TEST(Render, LabelValuesEscapeBackslashQuoteAndNewline) {
  Registry r;
  r.counter("e_total", "E.", {"path"}).with({"a\\b\"c\nd"}).inc();
  EXPECT_NE(r.render().find("e_total{path=\"a\\\\b\\\"c\\nd\"} 1\n"), std::string::npos)
      << r.render();
}

TEST(Render, HelpEscapesBackslashAndNewlineButNotQuotes) {
  Registry r;
  r.gauge("h", "one \\ two\nthree \"four\"").get();
  EXPECT_NE(r.render().find("# HELP h one \\\\ two\\nthree \"four\"\n"), std::string::npos)
      << r.render();
}

TEST(Render, HistogramBucketsAreCumulativeEndWithInfAndCountEqualsInf) {
  Registry r;
  auto& h = r.histogram("d_seconds", "D.", {0.1, 1, 10}, {"op"}).with({"w"});
  h.observe(0.05);
  h.observe(0.1);  // on a bound: counted in that bucket (le)
  h.observe(5);
  h.observe(50);
  EXPECT_EQ(r.render(),
            "# HELP d_seconds D.\n# TYPE d_seconds histogram\n"
            "d_seconds_bucket{op=\"w\",le=\"0.1\"} 2\n"
            "d_seconds_bucket{op=\"w\",le=\"1\"} 2\n"
            "d_seconds_bucket{op=\"w\",le=\"10\"} 3\n"
            "d_seconds_bucket{op=\"w\",le=\"+Inf\"} 4\n"
            "d_seconds_sum{op=\"w\"} 55.15\n"
            "d_seconds_count{op=\"w\"} 4\n");
}

TEST(Render, HistogramIgnoresNaNAndTakesDurations) {
  Registry r;
  auto& h = r.histogram("t_seconds", "T.", {0.001}).get();
  h.observe(std::nan(""));
  h.observe(std::chrono::microseconds(500));
  auto s = h.snapshot();
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.cumulative[0], 1u);
  EXPECT_DOUBLE_EQ(s.sum, 0.0005);
}

TEST(Numbers, SpecialValuesAndShortForms) {
  auto show = [](double v) {
    std::string out;
    append_number(v, &out);
    return out;
  };
  EXPECT_EQ(show(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(show(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(show(std::nan("")), "NaN");
  EXPECT_EQ(show(0.00005), "5e-05");
  EXPECT_EQ(show(42), "42");
  EXPECT_EQ(show(-1.25), "-1.25");
}

TEST(Registry, SameNameSameTypeIsTheSameFamily) {
  Registry r;
  auto& a = r.counter("same_total", "S.", {"k"});
  auto& b = r.counter("same_total", "S.", {"k"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.with({"v"}), &b.with({"v"}));
}

TEST(Registry, RefusesMisuse) {
  Registry r;
  r.counter("c_total", "C.");
  EXPECT_THROW(r.gauge("c_total", "C."), std::invalid_argument);
  EXPECT_THROW(r.counter("c_total", "C.", {"other"}), std::invalid_argument);
  EXPECT_THROW(r.counter("bad-name", "B."), std::invalid_argument);
  EXPECT_THROW(r.histogram("h_seconds", "H.", {1, 0.5}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h2_seconds", "H.", {1}, {"le"}), std::invalid_argument);
  EXPECT_THROW(r.counter("l_total", "L.", {"a"}).with({"x", "y"}), std::invalid_argument);
}

TEST(Registry, CollectorsReportAtScrapeTimeUntilTheirHandleGoes) {
  Registry r;
  int calls = 0;
  {
    CollectorHandle handle = r.add_collector([&](std::vector<CollectedFamily>& out) {
      ++calls;
      out.push_back({"live_jobs", "Jobs now.", Type::kGauge, {{{{"status", "pending"}}, 7}}});
    });
    EXPECT_EQ(r.render(),
              "# HELP live_jobs Jobs now.\n# TYPE live_jobs gauge\n"
              "live_jobs{status=\"pending\"} 7\n");
  }
  EXPECT_EQ(r.render(), "");
  EXPECT_EQ(calls, 1);
}

TEST(Registry, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  Counter& c = r.counter("n_total", "N.").get();
  Histogram& h = r.histogram("n_seconds", "N.", buckets::disk_seconds()).get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.snapshot().count, 40000u);
  EXPECT_NEAR(h.snapshot().sum, 40.0, 1e-6);
}

TEST(CounterByCode, ResolvesEachCodeOnceAndClampsUnknownCodes) {
  Registry r;
  auto& family = r.counter("req_total", "R.", {"method", "code"});
  CounterByCode by_code(family, {"Get"}, 16, [](int c) { return "c" + std::to_string(c); });
  by_code.at(0).inc();
  by_code.at(0).inc();
  by_code.at(99).inc();  // counts as 16
  EXPECT_EQ(&by_code.at(0), &family.with({"Get", "c0"}));
  EXPECT_EQ(family.with({"Get", "c0"}).value(), 2u);
  EXPECT_EQ(family.with({"Get", "c16"}).value(), 1u);
}

TEST(Process, ParsesProcStatWithParenthesesInTheName) {
  std::string stat =
      "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 "
      "1000 123456789 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto s = parse_proc_stat(stat, 100);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.0);
  EXPECT_EQ(s->threads, 7u);
  EXPECT_DOUBLE_EQ(s->start_seconds, 10.0);
  EXPECT_EQ(s->rss_pages, 321u);
  EXPECT_FALSE(parse_proc_stat("garbage", 100));
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2", 100));
}

TEST(Process, CollectorReportsThisProcess) {
  Registry r;
  CollectorHandle handle = add_process_collector(r);
  std::string text = r.render();
  for (const char* family :
       {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_threads",
        "process_start_time_seconds", "process_open_fds", "process_max_fds"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + family), std::string::npos) << family;
  }
  EXPECT_EQ(text.find("process_resident_memory_bytes 0\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace nomad::metrics
