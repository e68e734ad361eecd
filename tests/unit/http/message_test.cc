// The routes' request and answer types: targets split into a decoded path and query
// parameters (as the REST API's clients encode them), and header names without case.

#include "http/message.h"

#include <gtest/gtest.h>

namespace nomad::http {
namespace {

TEST(ParseTarget, DecodesThePathAndTheQuery) {
  std::string path;
  QueryParams params;
  ASSERT_TRUE(
      parse_target("/api/jobs/a%20b?q=make+all&limit=5&status=&flag&x=%3D%26", &path, &params));
  EXPECT_EQ(path, "/api/jobs/a b");
  EXPECT_EQ(params.find("q")->second, "make all");
  EXPECT_EQ(params.find("limit")->second, "5");
  EXPECT_EQ(params.find("status")->second, "");
  EXPECT_EQ(params.find("flag")->second, "");
  EXPECT_EQ(params.find("x")->second, "=&");
}

TEST(ParseTarget, KeepsRepeatedParametersAndBadEscapesAsTheyAre) {
  std::string path;
  QueryParams params;
  ASSERT_TRUE(parse_target("/p+q%zz%4?a=1&a=2", &path, &params));
  EXPECT_EQ(path, "/p+q%zz%4");  // '+' is a space only in the query
  EXPECT_EQ(params.count("a"), 2u);
}

TEST(ParseTarget, RefusesWhatIsNotAPath) {
  std::string path;
  QueryParams params;
  EXPECT_FALSE(parse_target("", &path, &params));
  EXPECT_FALSE(parse_target("*", &path, &params));
  EXPECT_FALSE(parse_target("http://example.com/", &path, &params));
}

TEST(Message, HeaderNamesIgnoreCase) {
  Request req;
  req.headers.emplace("content-length", "5");
  EXPECT_TRUE(req.has_header("Content-Length"));
  EXPECT_EQ(req.get_header_value("CONTENT-LENGTH"), "5");
  EXPECT_EQ(req.get_header_value("Origin"), "");
  Response res;
  res.set_header("Retry-After", "1");
  res.set_header("retry-after", "2");  // replaces
  EXPECT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.get_header_value("RETRY-AFTER"), "2");
  res.set_header("X-Bad", "a\r\nInjected: yes");  // never a line break into the answer
  EXPECT_FALSE(res.has_header("X-Bad"));
}

}  // namespace
}  // namespace nomad::http
