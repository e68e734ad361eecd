// The REST drain and eligibility routes on a fake cluster port: the body's shape is checked,
// the change goes through the client API as one command, and the answer is the node's state.

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "api/service.h"
#include "fake_cluster_port.h"
#include "http/http_server.h"

namespace nomad::http {
namespace {

class NodeRoutesTest : public ::testing::Test {
 protected:
  NodeRoutesTest() : service_(port_), server_(service_) {
    port_.state.node_id = 1;
    port_.state.leader_id = 1;
    for (uint64_t id : {1, 2}) {
      api::PeerStatus peer;
      peer.id = id;
      port_.state.nodes.push_back(peer);
    }
    Status s = server_.bind("127.0.0.1", 0);
    EXPECT_TRUE(s) << s.message();
    server_.start();
  }
  ~NodeRoutesTest() override { server_.stop(); }

  httplib::Result post(const std::string& path, const std::string& body) {
    httplib::Client client("127.0.0.1", server_.port());
    return client.Post(path, body, "application/json");
  }

  api::testing::FakeClusterPort port_;
  api::Service service_;
  HttpServer server_;
};

TEST_F(NodeRoutesTest, ADrainIsOneCommandAndAnswersWithTheNodesState) {
  auto res = post("/api/nodes/2/drain", R"({"deadline": "5m"})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["node_id"], 2);
  EXPECT_EQ(j["state"], "draining");
  EXPECT_EQ(j["eligible"], false);
  ASSERT_TRUE(j["drain_deadline_ms"].is_number());
  EXPECT_NEAR(j["drain_deadline_ms"].get<double>() - j["drain_started_ms"].get<double>(), 300'000,
              1);
  ASSERT_EQ(port_.proposed().size(), 1u);
  EXPECT_TRUE(port_.proposed()[0].node_scheduling().drain());

  res = post("/api/nodes/2/eligibility", R"({"eligible": true})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(nlohmann::json::parse(res->body)["state"], "eligible");

  res = post("/api/nodes/2/drain", R"({"no_deadline": true})");
  ASSERT_TRUE(res);
  EXPECT_TRUE(nlohmann::json::parse(res->body)["drain_deadline_ms"].is_null());
  res = post("/api/nodes/2/drain", R"({"cancel": true})");
  ASSERT_TRUE(res);
  EXPECT_EQ(nlohmann::json::parse(res->body)["state"], "eligible");
}

TEST_F(NodeRoutesTest, BadRequestsAreRefusedWithAReason) {
  struct Case {
    std::string path, body;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"/api/nodes/9/drain", "", 404, "no node 9 in the cluster"},
           {"/api/nodes/x/drain", "", 400, "'x' is not a node id"},
           {"/api/nodes/0/eligibility", R"({"eligible": true})", 400, "not a node id"},
           {"/api/nodes/2/drain", R"({"deadline": "soon"})", 400, "deadline must be a duration"},
           {"/api/nodes/2/drain", R"({"deadlin": "5m"})", 400, "unknown field 'deadlin'"},
           {"/api/nodes/2/drain", R"({"deadline": "5m", "no_deadline": true})", 400, "not both"},
           {"/api/nodes/2/drain", "[1]", 400, "must be a JSON object"},
           {"/api/nodes/2/eligibility", R"({"eligible": "yes"})", 400, "give {"},
           {"/api/nodes/2/eligibility", "", 400, "give {"},
       }) {
    auto res = post(c.path, c.body);
    ASSERT_TRUE(res) << c.path;
    EXPECT_EQ(res->status, c.status) << c.path << " " << c.body << ": " << res->body;
    EXPECT_NE(res->body.find(c.says), std::string::npos)
        << c.path << " " << c.body << ": " << res->body;
  }
  EXPECT_TRUE(port_.proposed().empty()) << "a refused request proposes nothing";
}

}  // namespace
}  // namespace nomad::http
