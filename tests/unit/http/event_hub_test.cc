// The event stream's hub: job changes coalesced per window, removals, resync beyond the
// per-window limit, cluster events at once on a change of leader but rate-limited for the
// commit index, stats and keep-alives on their schedule, and slow subscribers dropped without
// holding up the others. The tests drive flush() with a clock of their own.

#include "http/event_hub.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

namespace nomad::http {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = EventHub::Clock;

class FakeSource : public EventSource {
 public:
  json cluster() override {
    std::lock_guard lock(mu);
    return cluster_state;
  }
  std::vector<std::pair<std::string, std::optional<json>>> jobs(
      const std::vector<std::string>& ids) override {
    std::lock_guard lock(mu);
    ++job_reads;
    std::vector<std::pair<std::string, std::optional<json>>> out;
    for (const auto& id : ids) {
      auto it = jobs_state.find(id);
      out.emplace_back(id, it == jobs_state.end() ? std::nullopt : std::optional<json>(it->second));
    }
    return out;
  }
  json stats() override { return {{"jobs_submitted", 7}}; }

  void set_job(const std::string& id, const std::string& status) {
    std::lock_guard lock(mu);
    jobs_state[id] = {{"id", id}, {"status", status}};
  }

  std::mutex mu;
  json cluster_state = {
      {"role", "leader"},
      {"term", 1},
      {"leader_id", 1},
      {"commit_index", 10},
      {"applied_index", 10},
      {"nodes", {{{"id", 1}, {"role", "leader"}, {"alive", true}, {"last_contact_ms", 0}}}}};
  std::map<std::string, json> jobs_state;
  int job_reads = 0;
};

struct Event {
  std::string type;  // "" for a comment
  json data;
  std::string text;
};

std::vector<Event> parse(const std::vector<Frame>& frames) {
  std::vector<Event> out;
  for (const auto& f : frames) {
    Event e;
    e.text = *f;
    EXPECT_EQ(f->substr(f->size() - 2), "\n\n") << *f;
    if (f->starts_with(": ")) {
      out.push_back(e);
      continue;
    }
    size_t nl = f->find('\n');
    EXPECT_TRUE(f->starts_with("event: ")) << *f;
    e.type = f->substr(7, nl - 7);
    std::string data = f->substr(nl + 1);
    EXPECT_TRUE(data.starts_with("data: ")) << *f;
    data = data.substr(6, data.size() - 6 - 2);
    EXPECT_EQ(data.find('\n'), std::string::npos) << "a data line must be one line";
    e.data = json::parse(data);
    out.push_back(e);
  }
  return out;
}

std::vector<Event> of_type(const std::vector<Event>& events, const std::string& type) {
  std::vector<Event> out;
  for (const auto& e : events) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

// A hub whose stats and keep-alives are out of the way unless a test asks for them.
HubOptions quiet() {
  HubOptions o;
  o.stats_every = 1h;
  o.keep_alive_every = 1h;
  return o;
}

TEST(EventHub, ANewSubscriberStartsWithTheClusterAndStats) {
  FakeSource source;
  EventHub hub(source, quiet());
  auto sub = hub.subscribe();
  ASSERT_TRUE(sub);
  auto events = parse(sub->next(0ms));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "cluster");
  EXPECT_EQ(events[0].data["leader_id"], 1);
  EXPECT_EQ(events[1].type, "stats");
  EXPECT_EQ(events[1].data["jobs_submitted"], 7);
}

TEST(EventHub, AJobChangedSeveralTimesInAWindowIsSentOnceInItsLatestState) {
  FakeSource source;
  EventHub hub(source, quiet());
  auto sub = hub.subscribe();
  sub->next(0ms);
  auto t = Clock::now();
  source.set_job("a", "pending");
  hub.jobs_changed({"a"});
  source.set_job("a", "running");
  source.set_job("b", "pending");
  hub.jobs_changed({"a", "b"});
  source.set_job("a", "completed");
  hub.jobs_changed({"a"});
  hub.flush(t);
  auto jobs = of_type(parse(sub->next(0ms)), "job");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].data["id"], "a");
  EXPECT_EQ(jobs[0].data["status"], "completed");
  EXPECT_EQ(jobs[1].data["id"], "b");
  // The next window has nothing to say about them.
  hub.flush(t + 100ms);
  EXPECT_TRUE(of_type(parse(sub->next(0ms)), "job").empty());
}

TEST(EventHub, ARemovedJobIsSentAsJobRemoved) {
  FakeSource source;
  EventHub hub(source, quiet());
  auto t = Clock::now();
  hub.flush(t);  // as the hub's thread does before anyone subscribes
  auto sub = hub.subscribe();
  sub->next(0ms);
  hub.jobs_changed({"gone"});
  hub.flush(t + 100ms);
  auto events = parse(sub->next(0ms));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "job_removed");
  EXPECT_EQ(events[0].data, json({{"id", "gone"}}));
}

TEST(EventHub, MoreJobsThanTheLimitInOneWindowBecomeOneResync) {
  FakeSource source;
  HubOptions o = quiet();
  o.max_jobs_per_window = 500;
  EventHub hub(source, o);
  auto t = Clock::now();
  hub.flush(t);
  auto sub = hub.subscribe();
  sub->next(0ms);
  std::vector<std::string> ids;
  for (int i = 0; i < 501; ++i) ids.push_back("job-" + std::to_string(i));
  hub.jobs_changed(std::vector<std::string>(ids.begin(), ids.begin() + 300));
  hub.jobs_changed(std::vector<std::string>(ids.begin() + 300, ids.end()));
  t += 100ms;
  hub.flush(t);
  auto events = parse(sub->next(0ms));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "resync");
  EXPECT_TRUE(events[0].data["reason"].is_string());
  EXPECT_EQ(source.job_reads, 0) << "no job is read for a resync";
  // Exactly the limit is still sent one by one, in the next window.
  for (int i = 0; i < 500; ++i) source.set_job(ids[i], "pending");
  hub.jobs_changed(std::vector<std::string>(ids.begin(), ids.begin() + 500));
  hub.flush(t + 100ms);
  EXPECT_EQ(of_type(parse(sub->next(0ms)), "job").size(), 500u);
}

TEST(EventHub, ChangesAreNotRecordedWhileNobodyListens) {
  FakeSource source;
  EventHub hub(source, quiet());
  auto t = Clock::now();
  hub.flush(t);
  source.set_job("a", "pending");
  hub.jobs_changed({"a"});
  auto sub = hub.subscribe();
  sub->next(0ms);
  hub.flush(t + 100ms);
  EXPECT_TRUE(parse(sub->next(0ms)).empty());
  EXPECT_EQ(source.job_reads, 0);
}

TEST(EventHub, ANewLeaderIsSentAtOnceAndTheCommitIndexAtMostOnceASecond) {
  FakeSource source;
  EventHub hub(source, quiet());
  auto t = Clock::now();
  hub.flush(t);
  auto sub = hub.subscribe();
  sub->next(0ms);
  hub.flush(t + 50ms);
  EXPECT_TRUE(parse(sub->next(0ms)).empty()) << "nothing changed since the subscriber joined";

  // Only the commit index moves: one event a second at most.
  int sent = 0;
  for (int i = 1; i <= 20; ++i) {  // 2 s of windows
    {
      std::lock_guard lock(source.mu);
      source.cluster_state["commit_index"] = 10 + i;
      source.cluster_state["nodes"][0]["last_contact_ms"] = i;
    }
    hub.flush(t + i * 100ms);
    sent += static_cast<int>(of_type(parse(sub->next(0ms)), "cluster").size());
  }
  EXPECT_EQ(sent, 2);

  // Only the last contact changes: nothing.
  {
    std::lock_guard lock(source.mu);
    source.cluster_state["nodes"][0]["last_contact_ms"] = 999;
  }
  hub.flush(t + 2100ms);
  EXPECT_TRUE(parse(sub->next(0ms)).empty());

  // A new leader, right after the last cluster event: sent in this very window.
  {
    std::lock_guard lock(source.mu);
    source.cluster_state["role"] = "follower";
    source.cluster_state["leader_id"] = 2;
    source.cluster_state["term"] = 2;
  }
  hub.flush(t + 2200ms);
  auto cluster = of_type(parse(sub->next(0ms)), "cluster");
  ASSERT_EQ(cluster.size(), 1u);
  EXPECT_EQ(cluster[0].data["leader_id"], 2);

  // A node stops being alive: sent at once too.
  {
    std::lock_guard lock(source.mu);
    source.cluster_state["nodes"][0]["alive"] = false;
  }
  hub.flush(t + 2300ms);
  EXPECT_EQ(of_type(parse(sub->next(0ms)), "cluster").size(), 1u);
}

TEST(EventHub, StatsComeEverySecondAndKeepAlivesEveryFifteen) {
  FakeSource source;
  HubOptions o;  // the contract's schedule
  EventHub hub(source, o);
  auto sub = hub.subscribe();
  sub->next(0ms);
  auto t = Clock::now();
  int stats = 0, keep_alives = 0;
  for (int i = 1; i <= 160; ++i) {  // 16 s of windows
    hub.flush(t + i * 100ms);
    for (const auto& e : parse(sub->next(0ms))) {
      if (e.type == "stats") ++stats;
      if (e.type.empty()) {
        EXPECT_EQ(e.text, ": keep-alive\n\n");
        ++keep_alives;
      }
    }
  }
  EXPECT_GE(stats, 15);
  EXPECT_LE(stats, 16);
  EXPECT_EQ(keep_alives, 1);
}

TEST(EventHub, ASlowSubscriberIsDroppedWithAResyncAndTheOthersCarryOn) {
  FakeSource source;
  HubOptions o = quiet();
  o.queue_frames = 10;
  EventHub hub(source, o);
  auto slow = hub.subscribe();
  auto fast = hub.subscribe();
  ASSERT_EQ(hub.subscribers(), 2u);
  auto t = Clock::now();
  for (int i = 0; i < 20; ++i) {
    std::string id = "j" + std::to_string(i);
    source.set_job(id, "pending");
    hub.jobs_changed({id});
    hub.flush(t + i * 100ms);
    EXPECT_EQ(of_type(parse(fast->next(0ms)), "job").size(), 1u) << "window " << i;
  }
  // The slow one never read: it holds one resync and is closed once that is taken.
  EXPECT_FALSE(slow->closed());
  auto last = parse(slow->next(0ms));
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].type, "resync");
  EXPECT_TRUE(slow->closed());
  EXPECT_EQ(hub.subscribers(), 1u);
  EXPECT_FALSE(fast->closed());
}

TEST(EventHub, RefusesSubscribersBeyondItsCapAndTakesThemAgainWhenOneLeaves) {
  FakeSource source;
  HubOptions o = quiet();
  o.max_subscribers = 3;
  EventHub hub(source, o);
  std::vector<std::shared_ptr<Subscription>> subs;
  for (int i = 0; i < 3; ++i) subs.push_back(hub.subscribe());
  for (const auto& s : subs) ASSERT_TRUE(s);
  EXPECT_FALSE(hub.subscribe());
  hub.unsubscribe(subs[0]);
  EXPECT_TRUE(hub.subscribe());
}

TEST(EventHub, StopClosesEverySubscription) {
  FakeSource source;
  EventHub hub(source, quiet());
  auto sub = hub.subscribe();
  hub.start();
  sub->next(0ms);
  hub.stop();
  EXPECT_TRUE(sub->next(0ms).empty());
  EXPECT_TRUE(sub->closed());
  EXPECT_FALSE(hub.subscribe()) << "a stopped hub takes no one";
}

TEST(EventHub, ItsThreadDeliversAChangeWithinAWindowOrTwo) {
  FakeSource source;
  EventHub hub(source, quiet());
  hub.start();
  auto sub = hub.subscribe();
  sub->next(0ms);
  source.set_job("x", "running");
  auto start = Clock::now();
  hub.jobs_changed({"x"});
  std::vector<Event> jobs;
  while (jobs.empty() && Clock::now() - start < 5s) {
    jobs = of_type(parse(sub->next(200ms)), "job");
  }
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].data["status"], "running");
  hub.stop();
}

TEST(EventHub, FramesAreOneLineOfJsonEvenForTextWithNewlinesAndBadUtf8) {
  auto frame = make_event("job", {{"command", "echo a\necho b\r\n\xff"}});
  auto events = parse({frame});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data["command"], "echo a\necho b\r\n\xef\xbf\xbd");
}

}  // namespace
}  // namespace nomad::http
