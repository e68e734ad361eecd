#include <gtest/gtest.h>

#include "common/duration.h"
#include "common/peers.h"
#include "common/shell_quote.h"

namespace nomad {
namespace {

TEST(Duration, ParsesEveryUnitAndCombinations) {
  EXPECT_EQ(parse_duration("500ms"), Millis(500));
  EXPECT_EQ(parse_duration("30s"), Millis(30'000));
  EXPECT_EQ(parse_duration("2m"), Millis(120'000));
  EXPECT_EQ(parse_duration("1h"), Millis(3'600'000));
  EXPECT_EQ(parse_duration("7d"), Millis(7LL * 86'400'000));
  EXPECT_EQ(parse_duration("1m30s"), Millis(90'000));
  EXPECT_EQ(parse_duration("1.5s"), Millis(1500));
}

TEST(Duration, RejectsBareNumbersAndUnknownUnitsWithAReason) {
  std::string error;
  EXPECT_FALSE(parse_duration("30", &error));
  EXPECT_NE(error.find("unit is missing"), std::string::npos);
  EXPECT_FALSE(parse_duration("3w", &error));
  EXPECT_NE(error.find("unknown unit 'w'"), std::string::npos);
  EXPECT_FALSE(parse_duration("", &error));
  EXPECT_FALSE(parse_duration("-5s", &error));
  EXPECT_FALSE(parse_duration("1.0001s", &error));
  EXPECT_NE(error.find("finer than a millisecond"), std::string::npos);
  EXPECT_FALSE(parse_duration("99999999999999999h", &error));
}

TEST(Duration, FormatsTheShortestExactSpelling) {
  EXPECT_EQ(format_duration(Millis(0)), "0s");
  EXPECT_EQ(format_duration(Millis(250)), "250ms");
  EXPECT_EQ(format_duration(Millis(1500)), "1.5s");
  EXPECT_EQ(format_duration(Millis(90'000)), "1m30s");
  EXPECT_EQ(format_duration(Millis(3'600'000)), "1h");
  for (int64_t ms : {1, 999, 1001, 61'000, 3'723'456}) {
    EXPECT_EQ(parse_duration(format_duration(Millis(ms))), Millis(ms)) << ms;
  }
}

// Found by tests/fuzz/rest_submit_fuzz.cc: a number of days below the digit limit overflowed
// int64 when multiplied into milliseconds (UB; in practice a wrong, even negative, duration).
TEST(Duration, AHugeCountOfALongUnitIsTooLargeRatherThanAnOverflow) {
  std::string error;
  EXPECT_FALSE(parse_duration("158481727942d", &error));
  EXPECT_NE(error.find("too large"), std::string::npos) << error;
  EXPECT_FALSE(parse_duration("999999999999h", &error));
  EXPECT_NE(error.find("too large"), std::string::npos) << error;
  EXPECT_EQ(parse_duration("36500d"), Millis(36500LL * 86'400'000));  // a century still fits
}

TEST(Peers, ParsesTheSeedFormat) {
  std::vector<PeerAddress> peers;
  ASSERT_TRUE(parse_peers("2:127.0.0.1:50052,3:127.0.0.1:50053", 1, &peers).is_ok());
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0].id, 2u);
  EXPECT_EQ(peers[0].address(), "127.0.0.1:50052");
  EXPECT_EQ(peers[1].port, 50053);
  ASSERT_TRUE(parse_peers("", 1, &peers).is_ok());
  EXPECT_TRUE(peers.empty());
}

TEST(Peers, RejectsMalformedListsNamingTheItem) {
  std::vector<PeerAddress> peers;
  auto message = [&](const std::string& text) { return parse_peers(text, 1, &peers).message(); };
  EXPECT_NE(message("2:127.0.0.1").find("'2:127.0.0.1' is not a peer"), std::string::npos);
  EXPECT_NE(message("x:127.0.0.1:5").find("no valid node id"), std::string::npos);
  EXPECT_NE(message("2:127.0.0.1:99999").find("no valid port"), std::string::npos);
  EXPECT_NE(message("1:127.0.0.1:50051").find("own id"), std::string::npos);
  EXPECT_NE(message("2:a:1,2:b:2").find("appears twice"), std::string::npos);
  EXPECT_NE(message("2::5").find("no host"), std::string::npos);
  EXPECT_NE(message("2:a:1,").find("trailing comma"), std::string::npos);
}

TEST(ShellQuote, KeepsSafeWordsAndQuotesTheRest) {
  EXPECT_EQ(shell_join({"echo", "hello"}), "echo hello");
  EXPECT_EQ(shell_join({"sh", "-c", "echo a; echo b >&2"}), "sh -c 'echo a; echo b >&2'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

}  // namespace
}  // namespace nomad
