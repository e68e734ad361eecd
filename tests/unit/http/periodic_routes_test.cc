// The REST reads of periodic jobs on a fake cluster port: their query's read options
// (min_index, consistent) are checked as every read's are, and reach the read.

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "api/service.h"
#include "fake_cluster_port.h"
#include "http/http_server.h"

namespace nomad::http {
namespace {

class PeriodicRoutesTest : public ::testing::Test {
 protected:
  PeriodicRoutesTest() : service_(port_), server_(service_) {
    port_.state.node_id = 1;
    port_.state.leader_id = 1;
    Status s = server_.bind("127.0.0.1", 0);
    EXPECT_TRUE(s) << s.message();
    server_.start();
  }
  ~PeriodicRoutesTest() override { server_.stop(); }

  httplib::Result get(const std::string& path) {
    httplib::Client client("127.0.0.1", server_.port());
    return client.Get(path);
  }

  api::testing::FakeClusterPort port_;
  api::Service service_;
  HttpServer server_;
};

TEST_F(PeriodicRoutesTest, BadReadOptionsAreRefusedOnTheListAndOnOne) {
  for (const std::string path : {"/api/periodic", "/api/periodic/nightly"}) {
    auto res = get(path + "?min_index=soon");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << path;
    EXPECT_NE(res->body.find("min_index 'soon' must be a log index"), std::string::npos)
        << res->body;
    res = get(path + "?consistent=maybe");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << path;
    EXPECT_NE(res->body.find("consistent 'maybe' must be 1 or 0"), std::string::npos) << res->body;
  }
}

TEST_F(PeriodicRoutesTest, ReadsWithGoodOptionsAnswer) {
  auto res = get("/api/periodic?min_index=0&consistent=0");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto j = nlohmann::json::parse(res->body);
  EXPECT_TRUE(j["periodic"].is_array());
  EXPECT_TRUE(j["periodic"].empty());
  res = get("/api/periodic/nightly?min_index=0");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404) << res->body;
}

}  // namespace
}  // namespace nomad::http
