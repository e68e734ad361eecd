// The REST API and event stream (docs/http-api.md) of real nomad-lite server processes on
// 127.0.0.1: every endpoint, every error status, writes forwarded from a follower, job output
// (finished and followed), readiness without a leader, backpressure, 50 event streams at once,
// and a clean stop. Every wait is a poll for a condition with a deadline.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "cluster_harness.h"

namespace nomad::testing {
// Named after the file: its unity batch holds files whose helpers have the same names.
namespace http_test {

using nlohmann::json;

std::vector<std::string> job_flags(int slots = 2) {
  return {"--worker-slots", std::to_string(slots), "--worker-timeout", "2s", "--kill-grace",
          "500ms"};
}

struct Reply {
  int status = -1;  // -1: no answer
  std::string body;
  httplib::Headers headers;
  json doc;  // the body as JSON, when it is JSON

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  std::string error() const {
    return doc.is_object() && doc.contains("error") && doc["error"].is_string()
               ? doc["error"].get<std::string>()
               : "";
  }
};

std::ostream& operator<<(std::ostream& os, const Reply& r) {
  return os << "HTTP " << r.status << " " << r.body.substr(0, 400);
}

Reply to_reply(const httplib::Result& result) {
  Reply r;
  if (!result) return r;
  r.status = result->status;
  r.body = result->body;
  r.headers = result->headers;
  r.doc = json::parse(r.body, nullptr, false);
  return r;
}

// An HTTP client of one node's dashboard port.
class Http {
 public:
  explicit Http(int port) : client_("127.0.0.1", port) {
    client_.set_connection_timeout(2s);
    client_.set_read_timeout(15s);
  }
  Reply get(const std::string& path) { return to_reply(client_.Get(path.c_str())); }
  Reply post(const std::string& path, const std::string& body, httplib::Headers headers = {}) {
    return to_reply(client_.Post(path.c_str(), headers, body, "application/json"));
  }
  Reply post_json(const std::string& path, const json& body) { return post(path, body.dump()); }
  Reply send(const std::string& method, const std::string& path) {
    if (method == "GET") return get(path);
    if (method == "POST") return post(path, "");
    if (method == "PUT") return to_reply(client_.Put(path.c_str(), "", "application/json"));
    if (method == "DELETE") return to_reply(client_.Delete(path.c_str()));
    return to_reply(client_.Patch(path.c_str(), "", "application/json"));
  }
  httplib::Client& raw() { return client_; }

 private:
  httplib::Client client_;
};

// What a raw TCP client gets back for `request` (for requests httplib's client will not send).
std::string raw_exchange(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos && out.find('}') != std::string::npos) break;
    }
  }
  close(fd);
  return out;
}

// A started cluster whose nodes all serve the REST API.
struct HttpCluster {
  explicit HttpCluster(size_t nodes = 3, std::vector<std::string> flags = job_flags(),
                       bool start = true)
      : c(nodes, std::move(flags), /*dashboards=*/true) {
    if (!start) return;
    c.start_all();
    leader = c.wait_for_leader();
    for (uint64_t id : c.ids()) EXPECT_TRUE(wait_live(id)) << "node " << id << " serves no HTTP";
  }
  int port(uint64_t id) { return c.member(id).dashboard_port; }
  Http http(uint64_t id) { return Http(port(id)); }
  bool wait_live(uint64_t id) {
    return wait_until([&] { return http(id).get("/health/live").status == 200; }, 15s);
  }
  uint64_t follower(uint64_t other_than = 0) {
    for (uint64_t id : c.ids()) {
      if (id != leader && id != other_than) return id;
    }
    return 0;
  }
  // Submits through node `id`; the acknowledged job's JSON.
  json submit(uint64_t id, json body) {
    Reply r = http(id).post_json("/api/jobs", body);
    EXPECT_EQ(r.status, 201) << r;
    return r.doc;
  }
  // Polls node `id` until the job satisfies `pred`; its last state seen.
  json wait_job(uint64_t id, const std::string& job_id,
                const std::function<bool(const json&)>& pred,
                std::chrono::milliseconds timeout = 20s) {
    json last;
    wait_until(
        [&] {
          Reply r = http(id).get("/api/jobs/" + job_id);
          if (r.status == 200) last = r.doc;
          return r.status == 200 && pred(r.doc);
        },
        timeout);
    return last;
  }

  TestCluster c;
  uint64_t leader = 0;
};

bool is_status(const json& job, const std::string& status) {
  return job.is_object() && job.value("status", "") == status;
}

bool final_status(const json& job) {
  return is_status(job, "completed") || is_status(job, "failed") || is_status(job, "cancelled");
}

// --- endpoints -------------------------------------------------------------------------------

TEST(HttpApi, ServesTheClusterHealthJobsAndTheDashboard) {
  HttpCluster hc;
  ASSERT_NE(hc.leader, 0u);
  for (uint64_t id : hc.c.ids()) {
    Reply r = hc.http(id).get("/api/cluster");
    ASSERT_EQ(r.status, 200) << r;
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.doc["node_id"], id);
    EXPECT_EQ(r.doc["leader_id"], hc.leader);
    EXPECT_EQ(r.doc["leader_address"], hc.c.member(hc.leader).address());
    EXPECT_EQ(r.doc["role"], id == hc.leader ? "leader" : "follower");
    EXPECT_GT(r.doc["term"].get<uint64_t>(), 0u);
    EXPECT_TRUE(r.doc["commit_index"].is_number());
    EXPECT_TRUE(r.doc["applied_index"].is_number());
    ASSERT_EQ(r.doc["nodes"].size(), 3u);
    for (const auto& n : r.doc["nodes"]) {
      for (const char* field :
           {"id", "address", "role", "alive", "match_index", "last_contact_ms"}) {
        EXPECT_TRUE(n.contains(field)) << field;
      }
    }
    Reply live = hc.http(id).get("/health/live");
    EXPECT_EQ(live.status, 200);
    EXPECT_EQ(live.doc, json({{"status", "ok"}}));
    Reply ready = hc.http(id).get("/health/ready");
    EXPECT_EQ(ready.status, 200) << ready;
    EXPECT_EQ(ready.doc, json({{"status", "ready"}, {"leader_id", hc.leader}}));
  }

  // A job with every option, through the leader.
  Reply created =
      hc.http(hc.leader).post_json("/api/jobs", {{"command", "echo hello; echo oops >&2"},
                                                 {"timeout", "30s"},
                                                 {"retries", 1},
                                                 {"env", {{"GREETING", "hi"}}},
                                                 {"priority", 3}});
  ASSERT_EQ(created.status, 201) << created;
  std::string id = created.doc["id"];
  EXPECT_EQ(created.header("Location"), "/api/jobs/" + id);
  EXPECT_EQ(created.doc["command"], "echo hello; echo oops >&2");
  EXPECT_EQ(created.doc["status"], "pending");
  EXPECT_EQ(created.doc["timeout"], "30s");
  EXPECT_EQ(created.doc["retries"], 1);
  EXPECT_EQ(created.doc["priority"], 3);
  EXPECT_EQ(created.doc["env"], json({{"GREETING", "hi"}}));
  EXPECT_TRUE(created.doc.contains("stdout_tail"));

  json done = hc.wait_job(hc.leader, id, final_status);
  ASSERT_TRUE(is_status(done, "completed")) << done.dump();
  EXPECT_EQ(done["exit_code"], 0);
  EXPECT_EQ(done["stdout_tail"], "hello\n");
  EXPECT_EQ(done["stderr_tail"], "oops\n");
  EXPECT_TRUE(done["node_id"].is_number());
  EXPECT_EQ(done["attempts"].size(), 1u);

  // Lists: newest first, paged with the token, filtered by status and by text.
  std::vector<std::string> ids{id};
  for (int i = 0; i < 4; ++i) ids.push_back(hc.submit(hc.leader, {{"command", "true"}})["id"]);
  std::vector<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    Reply page =
        hc.http(hc.leader).get("/api/jobs?limit=2" + (token.empty() ? "" : "&page_token=" + token));
    ASSERT_EQ(page.status, 200) << page;
    EXPECT_EQ(page.doc["total"], 5);
    EXPECT_LE(page.doc["jobs"].size(), 2u);
    for (const auto& j : page.doc["jobs"]) {
      listed.push_back(j["id"]);
      EXPECT_FALSE(j.contains("stdout_tail")) << "lists leave the output out";
    }
    token = page.doc["next_page_token"].is_string() ? page.doc["next_page_token"].get<std::string>()
                                                    : "";
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(listed, std::vector<std::string>(ids.rbegin(), ids.rend()));

  Reply search = hc.http(hc.leader).get("/api/jobs?q=hello");
  ASSERT_EQ(search.status, 200);
  ASSERT_EQ(search.doc["total"], 1);
  EXPECT_EQ(search.doc["jobs"][0]["id"], id);
  EXPECT_TRUE(search.doc["next_page_token"].is_null());
  EXPECT_TRUE(wait_until([&] {
    Reply completed = hc.http(hc.leader).get("/api/jobs?status=completed&limit=1000");
    return completed.status == 200 && completed.doc["total"] == 5;
  }));
  Reply pending = hc.http(hc.leader).get("/api/jobs?status=pending");
  EXPECT_EQ(pending.status, 200);
  EXPECT_EQ(pending.doc["total"], 0);

  // The dashboard: its own files only, never cached stale, no inline script.
  Reply page = hc.http(hc.follower()).get("/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<html"), std::string::npos);
  std::string csp = page.header("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(page.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(page.header("Cache-Control"), "no-cache");
  Reply script = hc.http(hc.leader).get("/app.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.header("Content-Type"), "text/javascript; charset=utf-8");
}

// --- errors ----------------------------------------------------------------------------------

TEST(HttpApi, EveryErrorIsJsonWithItsStatus) {
  HttpCluster hc(1);
  ASSERT_NE(hc.leader, 0u);
  Http http = hc.http(1);
  std::string finished = hc.submit(1, {{"command", "echo done"}})["id"];
  ASSERT_TRUE(is_status(hc.wait_job(1, finished, final_status), "completed"));

  struct Case {
    std::string method, path, body;
    int status;
    std::string says;  // part of the error message
    httplib::Headers headers = {};
  };
  const std::string big(1024 * 1024 + 1, ' ');
  std::vector<Case> cases = {
      {"POST", "/api/jobs", "echo hello", 400, "not valid JSON"},
      {"POST", "/api/jobs", "", 400, "not valid JSON"},
      {"POST", "/api/jobs", "[1]", 400, "must be a JSON object"},
      {"POST", "/api/jobs", "{}", 400, "'command' is missing"},
      {"POST", "/api/jobs", R"({"command": 5})", 400, "'command' must be a string"},
      {"POST", "/api/jobs", R"({"command": "x", "retries": "2"})", 400, "'retries'"},
      {"POST", "/api/jobs", R"({"command": "x", "timeout": "soon"})", 400, "'timeout'"},
      {"POST", "/api/jobs", R"({"command": "x", "cmd": "y"})", 400, "unknown field 'cmd'"},
      {"POST", "/api/jobs", R"({"command": "   "})", 400, "command is empty"},
      {"POST", "/api/jobs", R"({"command": "x", "env": {"1A": "v"}})", 400, "'1A'"},
      {"POST", "/api/jobs", R"({"command": "x", "retries": 101})", 400, "limit is 100"},
      {"GET", "/api/jobs?limit=0", "", 400, "limit '0'"},
      {"GET", "/api/jobs?limit=1001", "", 400, "limit '1001'"},
      {"GET", "/api/jobs?status=done", "", 400, "status 'done'"},
      {"GET", "/api/jobs?page_token=zzz", "", 400, "page_token 'zzz'"},
      {"GET", "/api/jobs/" + finished + "/logs?stream=both", "", 400, "stream 'both'"},
      {"GET", "/api/jobs/" + finished + "/logs?attempt=0", "", 400, "attempt '0'"},
      {"GET", "/api/jobs/" + finished + "/logs?follow=maybe", "", 400, "follow 'maybe'"},
      {"POST",
       "/api/jobs",
       R"({"command": "x"})",
       403,
       "cross-origin",
       {{"Origin", "http://evil.example"}}},
      {"GET", "/api/jobs/no-such-job", "", 404, "no job no-such-job"},
      {"POST", "/api/jobs/no-such-job/cancel", "", 404, "no job no-such-job"},
      {"GET", "/api/jobs/no-such-job/logs", "", 404, "no job no-such-job"},
      {"GET", "/api/jobs/" + finished + "/logs?attempt=7", "", 404, "no attempt 7"},
      {"GET", "/api/nothing", "", 404, "no such path"},
      {"GET", "/no-such-page.html", "", 404, "no such path"},
      {"GET", "/api/jobs/" + finished + "/cancel", "", 405, "use POST"},
      {"DELETE", "/api/jobs", "", 405, "use GET, POST"},
      {"PUT", "/api/cluster", "", 405, "use GET"},
      {"POST", "/health/ready", "", 405, "use GET"},
      {"PATCH", "/api/jobs/" + finished, "", 405, "use GET"},
      {"POST", "/api/jobs/" + finished + "/cancel", "", 409, "already finished"},
      {"POST", "/api/jobs", big, 413, "larger than 1048576 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.substr(0, 60));
    Reply r;
    if (!c.headers.empty()) {
      r = http.post(c.path, c.body, c.headers);
    } else if (c.method == "POST") {
      r = http.post(c.path, c.body);
    } else {
      r = http.send(c.method, c.path);
    }
    EXPECT_EQ(r.status, c.status) << r;
    EXPECT_EQ(r.header("Content-Type"), "application/json") << r;
    EXPECT_NE(r.error().find(c.says), std::string::npos) << r;
    if (c.status == 405) {
      EXPECT_FALSE(r.header("Allow").empty());
    }
  }

  // What httplib's client will not send: a chunked body, and no HTTP at all. Still JSON.
  std::string chunked =
      raw_exchange(hc.port(1),
                   "POST /api/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\n{\"a\":\r\n0\r\n\r\n");
  EXPECT_TRUE(chunked.starts_with("HTTP/1.1 411")) << chunked;
  EXPECT_NE(chunked.find("Content-Length"), std::string::npos);
  std::string garbage = raw_exchange(hc.port(1), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_TRUE(garbage.starts_with("HTTP/1.1 400")) << garbage;
  EXPECT_NE(garbage.find("{\"error\":"), std::string::npos) << garbage;
  EXPECT_EQ(garbage.find("<html"), std::string::npos) << garbage;

  // After all that the server still serves.
  EXPECT_EQ(http.get("/api/cluster").status, 200);
}

TEST(HttpApi, WithoutALeaderReadyAndWritesAre503) {
  HttpCluster hc(3, job_flags(), /*start=*/false);
  hc.c.start(1);  // its two peers never come up: no majority, no leader
  ASSERT_TRUE(hc.wait_live(1));
  Http http = hc.http(1);
  Reply ready = http.get("/health/ready");
  EXPECT_EQ(ready.status, 503) << ready;
  EXPECT_EQ(ready.doc["status"], "no leader");
  EXPECT_TRUE(ready.doc["leader_id"].is_null());
  EXPECT_FALSE(ready.error().empty());
  EXPECT_EQ(ready.header("Retry-After"), "1");
  EXPECT_EQ(http.get("/health/live").status, 200);

  Reply cluster = http.get("/api/cluster");
  EXPECT_EQ(cluster.status, 200);
  EXPECT_TRUE(cluster.doc["leader_id"].is_null());
  EXPECT_EQ(http.get("/api/jobs").doc["total"], 0);

  auto t0 = std::chrono::steady_clock::now();
  Reply write = http.post_json("/api/jobs", {{"command", "true"}});
  EXPECT_EQ(write.status, 503) << write;
  EXPECT_NE(write.error().find("no leader"), std::string::npos) << write;
  EXPECT_EQ(write.header("Retry-After"), "1");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "a write waits for a leader briefly";
}

// Every thread of process `pid` is stopped (state T in /proc).
bool all_threads_stopped(pid_t pid) {
  std::error_code ec;
  auto tasks = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec);
  if (ec) return false;
  for (const auto& task : tasks) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The state follows the parenthesised name, which may itself hold spaces or parentheses.
    size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'T') {
      return false;
    }
  }
  return true;
}

TEST(HttpApi, TooManyWaitingWritesAre429) {
  // At most one write waiting to commit; a long election timeout keeps the leader in office
  // for a while after its followers stop answering, with that write stuck.
  HttpCluster hc(3, {"--worker-slots", "0", "--max-pending", "1", "--election-timeout", "1500ms",
                     "--heartbeat-interval", "100ms"});
  ASSERT_NE(hc.leader, 0u);
  for (uint64_t id : hc.c.ids()) {
    if (id != hc.leader) ::kill(hc.c.member(id).pid, SIGSTOP);
  }
  // kill() only queues the stop: on a loaded machine a follower's threads may run on for a
  // while (long enough to take and acknowledge the first write). Wait until every one stopped.
  for (uint64_t id : hc.c.ids()) {
    if (id == hc.leader) continue;
    ASSERT_TRUE(wait_until([&] { return all_threads_stopped(hc.c.member(id).pid); }, 10s))
        << "node " << id << " did not stop";
  }
  constexpr int kWriters = 4;
  std::vector<Reply> replies(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      replies[i] = hc.http(hc.leader).post_json(
          "/api/jobs", {{"command", "true"}, {"idempotency_key", "busy-" + std::to_string(i)}});
    });
  }
  for (auto& t : writers) t.join();
  for (uint64_t id : hc.c.ids()) {
    if (id != hc.leader) ::kill(hc.c.member(id).pid, SIGCONT);
  }
  int refused = 0;
  for (const Reply& r : replies) {
    EXPECT_TRUE(r.status == 429 || r.status == 503) << r;
    if (r.status != 429) continue;
    ++refused;
    EXPECT_NE(r.error().find("back off"), std::string::npos) << r;
    EXPECT_EQ(r.header("Retry-After"), "1");
  }
  EXPECT_GE(refused, kWriters - 1) << "only the one waiting write may get past the limit";
}

// --- forwarding ------------------------------------------------------------------------------

TEST(HttpApi, APostToAFollowerIsForwardedToTheLeader) {
  HttpCluster hc;
  ASSERT_NE(hc.leader, 0u);
  uint64_t f1 = hc.follower(), f2 = hc.follower(f1);
  ASSERT_NE(f1, 0u);
  ASSERT_NE(f2, 0u);

  Reply created = hc.http(f1).post_json(
      "/api/jobs", {{"command", "echo forwarded"}, {"idempotency_key", "fwd-1"}});
  ASSERT_EQ(created.status, 201) << created;
  std::string id = created.doc["id"];
  // The follower that answered already has it; so does the leader.
  EXPECT_EQ(hc.http(f1).get("/api/jobs/" + id).status, 200);
  EXPECT_TRUE(hc.c.job(hc.leader, id).has_value());
  // The same key through the other follower is the same job, not a second one.
  Reply again = hc.http(f2).post_json(
      "/api/jobs", {{"command", "echo forwarded"}, {"idempotency_key", "fwd-1"}});
  ASSERT_EQ(again.status, 201) << again;
  EXPECT_EQ(again.doc["id"], id);
  // Without a key: a new job each time.
  Reply other = hc.http(f2).post_json("/api/jobs", {{"command", "echo forwarded"}});
  ASSERT_EQ(other.status, 201) << other;
  EXPECT_NE(other.doc["id"], id);
  auto listed = hc.c.job_ids(hc.leader);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 2u);

  // A cancel through a follower, of a running job and then of the same job again.
  std::string sleeper = hc.submit(f1, {{"command", "sleep 30"}})["id"];
  ASSERT_TRUE(is_status(
      hc.wait_job(f1, sleeper, [](const json& j) { return is_status(j, "running"); }), "running"));
  Reply cancelled = hc.http(f2).post("/api/jobs/" + sleeper + "/cancel", "");
  ASSERT_EQ(cancelled.status, 200) << cancelled;
  EXPECT_EQ(cancelled.doc["status"], "cancelled");
  EXPECT_EQ(hc.http(f2).get("/api/jobs/" + sleeper).doc["status"], "cancelled");
  Reply twice = hc.http(f1).post("/api/jobs/" + sleeper + "/cancel", "");
  EXPECT_EQ(twice.status, 409) << twice;
  EXPECT_NE(twice.error().find("already finished"), std::string::npos) << twice;
  // Nothing a follower answers mentions leadership.
  for (const Reply& r : {created, again, other, cancelled, twice}) {
    EXPECT_EQ(r.body.find("not the leader"), std::string::npos) << r;
  }
}

TEST(HttpApi, ASubmitWithWaitThroughAFollowerAnswersWithTheFinalJob) {
  HttpCluster hc;
  ASSERT_NE(hc.leader, 0u);
  uint64_t f = hc.follower();
  ASSERT_NE(f, 0u);

  // The write is forwarded to the leader; the wait is the follower's own, on its applied state.
  Reply done =
      hc.http(f).post_json("/api/jobs", {{"command", "sleep 0.3; echo waited"}, {"wait", "20s"}});
  ASSERT_EQ(done.status, 201) << done;
  EXPECT_EQ(done.doc["status"], "completed") << done;
  EXPECT_EQ(done.doc["exit_code"], 0) << done;
  std::string id = done.doc["id"];
  // What the follower answered is what every node has committed.
  for (uint64_t node : {hc.leader, f}) {
    Reply seen = hc.http(node).get("/api/jobs/" + id);
    ASSERT_EQ(seen.status, 200) << seen;
    EXPECT_EQ(seen.doc["status"], "completed") << "node " << node << ": " << seen;
  }

  // A job that outlives the wait comes back unfinished when the wait ends, not as an error.
  Reply early = hc.http(f).post_json("/api/jobs", {{"command", "sleep 30"}, {"wait", "1s"}});
  ASSERT_EQ(early.status, 201) << early;
  EXPECT_TRUE(early.doc["status"] == "pending" || early.doc["status"] == "running") << early;
  EXPECT_EQ(
      hc.http(f).post("/api/jobs/" + early.doc["id"].get<std::string>() + "/cancel", "").status,
      200);
}

// --- output ----------------------------------------------------------------------------------

TEST(HttpApi, OutputOfAFinishedJobAndFollowedOutputOfARunningOne) {
  HttpCluster hc;
  ASSERT_NE(hc.leader, 0u);
  std::string done =
      hc.submit(hc.leader, {{"command", "printf 'line1\\nline2\\n'; echo e1 >&2"}})["id"];
  json finished = hc.wait_job(hc.leader, done, final_status);
  ASSERT_TRUE(is_status(finished, "completed")) << finished.dump();
  for (uint64_t id : hc.c.ids()) {  // the node that ran it and the others
    Reply out = hc.http(id).get("/api/jobs/" + done + "/logs");
    EXPECT_EQ(out.status, 200) << out;
    EXPECT_EQ(out.header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(out.body, "line1\nline2\n") << "node " << id;
    EXPECT_EQ(hc.http(id).get("/api/jobs/" + done + "/logs?stream=stderr&attempt=1").body, "e1\n");
  }

  // A job that prints, then waits for the test's go-ahead before printing again.
  std::string dir = hc.c.root() + "/follow";
  std::filesystem::create_directories(dir);
  std::string running = hc.submit(hc.leader, {{"command",
                                               "echo first; while [ ! -e \"$DIR/go\" ]; "
                                               "do sleep 0.05; done; echo second"},
                                              {"env", {{"DIR", dir}}}})["id"];
  json started = hc.wait_job(hc.leader, running, [](const json& j) {
    return is_status(j, "running") && j["attempts"].size() == 1 &&
           j["attempts"][0]["started_at"].is_string();
  });
  ASSERT_TRUE(is_status(started, "running")) << started.dump();
  uint64_t ran_on = started["attempts"][0]["node_id"];
  uint64_t reader = ran_on == hc.leader ? hc.follower() : hc.leader;  // output from elsewhere

  std::mutex mu;
  std::string received;
  std::atomic<bool> finished_stream{false};
  int status = -1;
  std::thread follower([&] {
    Http http = hc.http(reader);
    auto result = http.raw().Get(("/api/jobs/" + running + "/logs?follow=1").c_str(),
                                 [&](const char* data, size_t length) {
                                   std::lock_guard lock(mu);
                                   received.append(data, length);
                                   return true;
                                 });
    status = result ? result->status : -1;
    finished_stream = true;
  });
  auto seen = [&](const std::string& text) {
    std::lock_guard lock(mu);
    return received == text;
  };
  EXPECT_TRUE(wait_until([&] { return seen("first\n"); }, 15s)) << "the first line never came";
  EXPECT_FALSE(finished_stream) << "the stream ended while the job still runs";
  std::ofstream(dir + "/go").put('\n');
  EXPECT_TRUE(wait_until([&] { return finished_stream.load(); }, 15s)) << "the stream never ended";
  follower.join();
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(seen("first\nsecond\n"));
  EXPECT_TRUE(is_status(hc.wait_job(hc.leader, running, final_status), "completed"));
}

// --- events ----------------------------------------------------------------------------------

// One event-stream client on its own thread: it records what it receives.
class EventClient {
 public:
  explicit EventClient(int port) {
    thread_ = std::thread([this, port] {
      httplib::Client client("127.0.0.1", port);
      client.set_connection_timeout(5s);
      client.set_read_timeout(10s);
      auto result = client.Get("/api/events", [this](const char* data, size_t length) {
        buffer_.append(data, length);
        size_t end;
        while ((end = buffer_.find("\n\n")) != std::string::npos) {
          take(buffer_.substr(0, end));
          buffer_.erase(0, end + 2);
        }
        return !stop_;
      });
      if (result) content_type_ = result->get_header_value("Content-Type");
    });
  }
  ~EventClient() {
    stop();
    thread_.join();
  }
  // Asks the stream to end: it does at the next event (stats come every second).
  void stop() { stop_ = true; }
  bool connected() const { return connected_; }
  bool saw_job(const std::string& id) const {
    std::lock_guard lock(mu_);
    return jobs_.count(id) > 0;
  }
  json last_stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  void take(const std::string& event) {
    if (event.starts_with(":") || event.starts_with("retry:")) return;
    size_t nl = event.find('\n');
    if (nl == std::string::npos || !event.starts_with("event: ")) return;
    std::string type = event.substr(7, nl - 7);
    json data = json::parse(event.substr(nl + 1 + 6), nullptr, false);
    if (type == "cluster" && data.is_object()) connected_ = true;
    if (type == "stats") {
      std::lock_guard lock(mu_);
      stats_ = data;
    }
    if (type == "job" && data.is_object() && data["id"].is_string()) {
      std::lock_guard lock(mu_);
      jobs_.insert(data["id"].get<std::string>());
    }
  }

  std::string buffer_;
  std::string content_type_;
  std::atomic<bool> connected_{false}, stop_{false};
  mutable std::mutex mu_;
  json stats_;
  std::set<std::string> jobs_;
  std::thread thread_;
};

TEST(HttpApi, FiftyEventStreamsAllSeeANewJob) {
  HttpCluster hc(3, job_flags(1));
  ASSERT_NE(hc.leader, 0u);
  // Spread over the three nodes: followers' streams too.
  std::vector<std::unique_ptr<EventClient>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<EventClient>(hc.port(hc.c.ids()[i % 3])));
  }
  auto count = [&](const std::function<bool(const EventClient&)>& what) {
    int n = 0;
    for (const auto& c : clients) n += what(*c) ? 1 : 0;
    return n;
  };
  auto connected = [](const EventClient& c) { return c.connected(); };
  ASSERT_TRUE(wait_until([&] { return count(connected) == 50; }, 30s))
      << count(connected) << " of 50 streams got their first event";

  Reply created = hc.http(hc.leader).post_json("/api/jobs", {{"command", "echo fifty"}});
  ASSERT_EQ(created.status, 201) << created;
  std::string id = created.doc["id"];
  auto saw = [&](const EventClient& c) { return c.saw_job(id); };
  EXPECT_TRUE(wait_until([&] { return count(saw) == 50; }, 30s))
      << count(saw) << " of 50 streams saw the new job";
  // Stats count it too.
  EXPECT_TRUE(wait_until(
      [&] {
        json s = clients[0]->last_stats();
        return s.is_object() && s.value("jobs_submitted", 0) >= 1 &&
               s["by_status"].contains("completed") && s.contains("commit_index");
      },
      10s));
  for (auto& c : clients) c->stop();  // all at once, rather than one after the other
}

// --- lifecycle -------------------------------------------------------------------------------

TEST(HttpApi, SigtermStopsTheServerWithStreamsOpen) {
  HttpCluster hc(1);
  ASSERT_NE(hc.leader, 0u);
  std::string id = hc.submit(1, {{"command", "echo started; sleep 30"}})["id"];
  ASSERT_TRUE(is_status(hc.wait_job(1, id, [](const json& j) { return is_status(j, "running"); }),
                        "running"));
  auto events = std::make_unique<EventClient>(hc.port(1));
  std::atomic<bool> output_started{false}, output_ended{false};
  std::thread output([&] {
    Http http = hc.http(1);
    http.raw().Get(("/api/jobs/" + id + "/logs?follow=1").c_str(), [&](const char*, size_t) {
      output_started = true;
      return true;
    });
    output_ended = true;
  });
  ASSERT_TRUE(wait_until([&] { return events->connected() && output_started.load(); }, 10s));

  pid_t pid = hc.c.member(1).pid;
  ::kill(pid, SIGTERM);
  int status = 0;
  bool exited = wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 15s);
  if (exited) hc.c.member(1).pid = -1;
  ASSERT_TRUE(exited) << "the server did not stop; log " << hc.c.member(1).log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(wait_until([&] { return output_ended.load(); }, 10s));
  output.join();
  events.reset();
}

TEST(HttpApi, ABusyDashboardPortIsOneLineAndExitCode2) {
  int busy = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(busy, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(busy, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(busy, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  std::string dir = (std::filesystem::temp_directory_path() / "nomad-busy-XXXXXX").string();
  dir = mkdtemp(dir.data());
  RunResult r = run_bounded(
      {NOMAD_LITE_BIN, "server", "--node-id", "1", "--port", std::to_string(free_port()),
       "--dashboard-port", std::to_string(port), "--data-dir", dir + "/data"},
      20s);
  close(busy);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--dashboard-port"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace http_test
}  // namespace nomad::testing
