#include "common/byte_size.h"

#include <gtest/gtest.h>

namespace nomad {
namespace {

TEST(ByteSize, BinaryDecimalAndShortUnits) {
  EXPECT_EQ(parse_byte_size("256MiB"), 256ull << 20);
  EXPECT_EQ(parse_byte_size("1.5GiB"), 3ull << 29);
  EXPECT_EQ(parse_byte_size("512M"), 512ull << 20);
  EXPECT_EQ(parse_byte_size("2g"), 2ull << 30);
  EXPECT_EQ(parse_byte_size("64KB"), 64000u);
  EXPECT_EQ(parse_byte_size("1 kib"), 1024u);
  EXPECT_EQ(parse_byte_size("4096"), 4096u);
  EXPECT_EQ(parse_byte_size("0"), 0u);
}

TEST(ByteSize, RejectsWithAReason) {
  for (const char* bad : {"", "MiB", "-1G", "1.2.3G", "12 parsecs", "1e3", "99999999999T"}) {
    std::string error;
    EXPECT_FALSE(parse_byte_size(bad, &error)) << bad;
    EXPECT_NE(error.find("size"), std::string::npos) << bad << ": " << error;
  }
}

TEST(ByteSize, FormatsForPeople) {
  EXPECT_EQ(format_byte_size(100), "100 B");
  EXPECT_EQ(format_byte_size(256ull << 20), "256 MiB");
  EXPECT_EQ(format_byte_size(3ull << 29), "1.5 GiB");
  EXPECT_EQ(format_byte_size(0), "0 B");
}

}  // namespace
}  // namespace nomad
