#include "cli/address.h"

#include <gtest/gtest.h>

namespace nomad::cli {
namespace {

std::vector<std::string> parse(const std::string& text) {
  std::vector<std::string> out;
  Status status = parse_addresses(text, &out);
  EXPECT_TRUE(status.is_ok()) << status.message();
  return out;
}

std::string error_of(const std::string& text) {
  std::vector<std::string> out;
  Status status = parse_addresses(text, &out);
  EXPECT_FALSE(status.is_ok()) << text;
  return status.message();
}

TEST(Addresses, WithOrWithoutHttpScheme) {
  EXPECT_EQ(parse("http://127.0.0.1:50051"), std::vector<std::string>{"127.0.0.1:50051"});
  EXPECT_EQ(parse("127.0.0.1:50052"), std::vector<std::string>{"127.0.0.1:50052"});
  EXPECT_EQ(parse("http://localhost:50051/"), std::vector<std::string>{"localhost:50051"});
}

TEST(Addresses, SeveralCommaSeparatedInOrder) {
  EXPECT_EQ(parse("http://a:1, b:2 ,http://c:3"), (std::vector<std::string>{"a:1", "b:2", "c:3"}));
}

TEST(Addresses, PortDefaultsTo50051AndIpv6NeedsBrackets) {
  EXPECT_EQ(parse("node1"), std::vector<std::string>{"node1:50051"});
  EXPECT_EQ(parse("[::1]:7000"), std::vector<std::string>{"[::1]:7000"});
  EXPECT_EQ(parse("[::1]"), std::vector<std::string>{"[::1]:50051"});
  EXPECT_NE(error_of("::1").find("brackets"), std::string::npos);
}

TEST(Addresses, Mistakes) {
  EXPECT_NE(error_of("https://a:1").find("TLS"), std::string::npos);
  EXPECT_NE(error_of("a:1,,b:2").find("empty"), std::string::npos);
  EXPECT_NE(error_of("a:1,").find("trailing comma"), std::string::npos);
  EXPECT_NE(error_of("a:99999").find("'a:99999'"), std::string::npos);
  EXPECT_NE(error_of("a:port").find("'a:port'"), std::string::npos);
  EXPECT_NE(error_of("http://a:1/api").find("path"), std::string::npos);
  EXPECT_NE(error_of("").find("no address"), std::string::npos);
}

}  // namespace
}  // namespace nomad::cli
