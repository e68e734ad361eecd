// common/log.h: JSON and text rendering of log lines and their fields.

#include "common/log.h"

#include <gtest/gtest.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

namespace nomad::common {
namespace {

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string text_value(std::string_view s) {
  std::string out;
  append_text_value(out, s);
  return out;
}

// The default logger writes into a string with the given format while it lives.
class CapturedLog {
 public:
  CapturedLog(LogFormat format, uint64_t node_id) : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("captured", sink);
    logger->set_formatter(make_log_formatter(format, node_id));
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(LogJsonString, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("say \"hi\" \\ now"), "\"say \\\"hi\\\" \\\\ now\"");
  EXPECT_EQ(json_string("a\nb\rc\td\be\ff"), "\"a\\nb\\rc\\td\\be\\ff\"");
  EXPECT_EQ(json_string(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(json_string(std::string("nul\0end", 7)), "\"nul\\u0000end\"");
}

TEST(LogJsonString, KeepsValidUtf8AndReplacesEveryInvalidByte) {
  EXPECT_EQ(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(json_string("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(json_string("x\xc3"), "\"x\\ufffd\"");                      // cut short at the end
  EXPECT_EQ(json_string("\xc0\x80"), "\"\\ufffd\\ufffd\"");             // overlong NUL
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
  // Whatever the bytes, the result parses as JSON.
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  auto parsed = nlohmann::json::parse(json_string(all), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded());
  EXPECT_EQ(parsed.get<std::string>().size(), 128u + 128u * 3u);  // ASCII, then U+FFFD each
}

TEST(LogTextValue, QuotesOnlyWhatWouldBreakKeyValueParsing) {
  EXPECT_EQ(text_value("abc-123"), "abc-123");
  EXPECT_EQ(text_value(""), "\"\"");
  EXPECT_EQ(text_value("echo hi"), "\"echo hi\"");
  EXPECT_EQ(text_value("a=b"), "\"a=b\"");
  EXPECT_EQ(text_value("say \"x\"\n"), "\"say \\\"x\\\"\\n\"");
  EXPECT_EQ(text_value(std::string("\x01", 1)), "\"\\x01\"");
}

TEST(LogFormatName, AcceptsTextAndJsonOnly) {
  EXPECT_EQ(parse_log_format("text"), LogFormat::kText);
  EXPECT_EQ(parse_log_format("json"), LogFormat::kJson);
  EXPECT_FALSE(parse_log_format("JSON"));
  EXPECT_FALSE(parse_log_format(""));
  EXPECT_FALSE(parse_log_format("logfmt"));
}

TEST(LogJsonLine, HasTimeLevelNodeMessageAndTypedFields) {
  CapturedLog log(LogFormat::kJson, 7);
  log_info("job placed", {{"job_id", "j-1"},
                          {"attempt", uint32_t{2}},
                          {"worker", uint64_t{3}},
                          {"exit_code", -1},
                          {"retry", true},
                          {"command", "echo \"a\"\n\xff"}});
  const std::string out = log.text();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line: " << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << j["time"];
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["node"], 7);
  EXPECT_EQ(j["msg"], "job placed");
  EXPECT_EQ(j["job_id"], "j-1");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["worker"], 3);
  EXPECT_EQ(j["exit_code"], -1);
  EXPECT_EQ(j["retry"], true);
  EXPECT_EQ(j["command"], "echo \"a\"\n\xef\xbf\xbd");
}

TEST(LogJsonLine, PlainSpdlogCallsAndReservedFieldNames) {
  CapturedLog log(LogFormat::kJson, 2);
  spdlog::warn("peer {} unreachable: {}", 3, "connection \"refused\"");
  log_error("storage failure", {{"node", uint64_t{9}}, {"msg", "x"}});
  std::istringstream lines(log.text());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  auto first = nlohmann::json::parse(line);
  EXPECT_EQ(first["level"], "warning");
  EXPECT_EQ(first["msg"], "peer 3 unreachable: connection \"refused\"");
  EXPECT_EQ(first.size(), 4u);  // time, level, node, msg: no fields
  ASSERT_TRUE(std::getline(lines, line));
  auto second = nlohmann::json::parse(line);
  EXPECT_EQ(second["level"], "error");
  EXPECT_EQ(second["node"], 2);  // the logging node's id is never overwritten
  EXPECT_EQ(second["node_"], 9);
  EXPECT_EQ(second["msg"], "storage failure");
  EXPECT_EQ(second["msg_"], "x");
}

TEST(LogTextLine, AppendsFieldsAsKeyValue) {
  CapturedLog log(LogFormat::kText, 4);
  log_info(
      "job failed",
      {{"job_id", "j-9"}, {"exit_code", 3}, {"reason", "exit_code"}, {"command", "false && echo"}});
  spdlog::info("no fields");
  const std::string out = log.text();
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} info \[node 4\] job failed )"
                      R"(job_id=j-9 exit_code=3 reason=exit_code command="false && echo"\n)")))
      << out;
  EXPECT_NE(out.find("[node 4] no fields\n"), std::string::npos) << out;
}

TEST(LogFields, DisabledLevelsFormatNothing) {
  CapturedLog log(LogFormat::kJson, 1);
  log_debug("not shown", {{"job_id", "x"}});
  EXPECT_EQ(log.text(), "");
}

}  // namespace
}  // namespace nomad::common

namespace nomad::common {
namespace {

// Standard output goes to a temporary file while this lives.
class CapturedStdout {
 public:
  CapturedStdout() : file_(tmpfile()) {
    fflush(stdout);
    saved_ = dup(STDOUT_FILENO);
    dup2(fileno(file_), STDOUT_FILENO);
  }
  ~CapturedStdout() {
    fflush(stdout);
    dup2(saved_, STDOUT_FILENO);
    close(saved_);
    fclose(file_);
  }
  std::string text() {
    fflush(stdout);
    std::string out;
    rewind(file_);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
    return out;
  }

 private:
  FILE* file_;
  int saved_ = -1;
};

TEST(InfoLineBatch, WritesItsLinesToStandardOutputTogetherWhenTheBatchEnds) {
  CapturedStdout out;
  set_log_format(LogFormat::kJson, 5);  // the server's own logger: spdlog's standard output
  {
    InfoLineBatch batch;
    batch.add("job submitted", {{"job_id", "j1"}});
    batch.add("job placed", {{"job_id", "j1"}, {"attempt", uint32_t{1}}, {"worker", uint64_t{2}}});
    EXPECT_EQ(out.text(), "") << "a line was written before the batch ended";
  }
  const std::string text = out.text();
  spdlog::set_formatter(std::make_unique<spdlog::pattern_formatter>());
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  auto first = nlohmann::json::parse(text.substr(0, text.find('\n')));
  auto second = nlohmann::json::parse(text.substr(text.find('\n') + 1));
  EXPECT_EQ(first["node"], 5);
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["msg"], "job submitted");
  EXPECT_EQ(first["job_id"], "j1");
  EXPECT_EQ(second["msg"], "job placed");
  EXPECT_EQ(second["attempt"], 1);
  EXPECT_EQ(second["worker"], 2);
}

TEST(InfoLineBatch, GoesLineByLineThroughAnotherDefaultLogger) {
  CapturedLog log(LogFormat::kText, 4);
  InfoLineBatch batch;
  batch.add("job submitted", {{"job_id", "j2"}});
  // Through the capture at once, formatted as log_info formats it.
  EXPECT_NE(log.text().find("info [node 4] job submitted job_id=j2\n"), std::string::npos)
      << log.text();
}

}  // namespace
}  // namespace nomad::common
