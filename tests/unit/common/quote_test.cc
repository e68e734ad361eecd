#include "common/quote.h"

#include <gtest/gtest.h>

namespace nomad::common {
namespace {

TEST(QuoteInput, ShortInputIsQuotedWhole) { EXPECT_EQ(quote_input("abc"), "abc"); }

TEST(QuoteInput, LongInputIsCutToAPrefixWithItsLength) {
  std::string quoted = quote_input(std::string(10240, 'x'));
  EXPECT_EQ(quoted, std::string(64, 'x') + "\xE2\x80\xA6 (10240 bytes)");
}

TEST(QuoteInput, ControlBytesAreEscapedAndUtf8IsNotCutInTwo) {
  EXPECT_EQ(quote_input(std::string("a\0b\n", 4)), "a\\x00b\\x0a");
  std::string text = std::string(63, 'x') + "\xC3\xA9" + "yyy";  // é straddles byte 64
  EXPECT_EQ(quote_input(text).substr(0, 63), std::string(63, 'x'));
  EXPECT_EQ(quote_input(text).substr(63, 3), "\xE2\x80\xA6");
}

TEST(BoundMessage, CutsLongMessages) {
  EXPECT_EQ(bound_message("short", 1024), "short");
  std::string cut = bound_message(std::string(5000, 'm'), 1024);
  EXPECT_LE(cut.size(), 1024u);
  EXPECT_EQ(cut.substr(cut.size() - 3), "\xE2\x80\xA6");
}

}  // namespace
}  // namespace nomad::common
