// The REST API's requests as the client API's messages: what is accepted, and that every
// refusal names the field and what it should be.

#include "http/request_parse.h"

#include <gtest/gtest.h>

namespace nomad::http {
namespace {

using api::Code;

TEST(ParseSubmit, TakesEveryFieldOfTheContract) {
  auto r = parse_submit(R"({"command": "echo hi", "timeout": "1m30s", "retries": 2,
                            "env": {"A": "1", "B_2": "x"}, "priority": -5,
                            "idempotency_key": "k-1"})");
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(r.value.command(), "echo hi");
  EXPECT_EQ(r.value.timeout_ms(), 90'000u);
  EXPECT_EQ(r.value.retries(), 2u);
  EXPECT_EQ(r.value.priority(), -5);
  EXPECT_EQ(r.value.idempotency_key(), "k-1");
  ASSERT_EQ(r.value.env().size(), 2u);
  EXPECT_EQ(r.value.env().at("B_2"), "x");
}

TEST(ParseSubmit, OnlyTheCommandIsRequiredAndNullMeansAbsent) {
  auto r = parse_submit(R"({"command": "true", "timeout": null, "env": null, "retries": null,
                            "lost_retries": null, "on_disconnect": null})");
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(r.value.timeout_ms(), 0u);
  EXPECT_EQ(r.value.retries(), 0u);
  EXPECT_FALSE(r.value.has_lost_retries()) << "absent: the service's default (3)";
  EXPECT_EQ(r.value.on_disconnect(), nomad_lite::ON_DISCONNECT_STOP);
  EXPECT_TRUE(r.value.env().empty());
}

// Each refusal is kInvalidArgument (400) and its message contains `names`.
void expect_refused(const std::string& body, const std::string& names) {
  auto r = parse_submit(body);
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_EQ(r.error.code, Code::kInvalidArgument) << body;
  EXPECT_NE(r.error.message.find(names), std::string::npos)
      << body << " -> " << r.error.message << " (should name " << names << ")";
}

TEST(ParseSubmit, TakesLostRetriesAndOnDisconnect) {
  auto r =
      parse_submit(R"({"command": "true", "lost_retries": 0, "on_disconnect": "keep-running"})");
  ASSERT_TRUE(r.ok()) << r.error.message;
  ASSERT_TRUE(r.value.has_lost_retries());
  EXPECT_EQ(r.value.lost_retries(), 0u);
  EXPECT_EQ(r.value.on_disconnect(), nomad_lite::ON_DISCONNECT_KEEP_RUNNING);
  expect_refused(R"({"command": "a", "on_disconnect": "pause"})",
                 "'on_disconnect' must be \"stop\" or \"keep-running\", not \"pause\"");
  expect_refused(R"({"command": "a", "on_disconnect": 1})", "'on_disconnect'");
  expect_refused(R"({"command": "a", "lost_retries": -1})",
                 "'lost_retries' must be a whole number from 0 to 100");
}

TEST(ParseSubmit, RefusesMalformedBodiesSayingWhatIsWrong) {
  expect_refused("", "not valid JSON");
  expect_refused("{\"command\": ", "not valid JSON");
  expect_refused("{\"command\": \"a\"} trailing", "not valid JSON");
  expect_refused("[\"echo\"]", "must be a JSON object");
  expect_refused("\"echo hi\"", "must be a JSON object");
  expect_refused("{}", "'command' is missing");
  expect_refused(R"({"timeout": "1s"})", "'command' is missing");
  expect_refused(R"({"command": null})", "'command' is missing");
}

TEST(ParseSubmit, RefusesMistypedFieldsNamingThem) {
  expect_refused(R"({"command": 42})", "'command' must be a string");
  expect_refused(R"({"command": ["ls"]})", "'command' must be a string");
  expect_refused(R"({"command": "a", "timeout": 30})", "'timeout' must be a duration");
  expect_refused(R"({"command": "a", "timeout": "30"})", "'timeout'");
  expect_refused(R"({"command": "a", "timeout": "soon"})", "'timeout'");
  expect_refused(R"({"command": "a", "retries": "2"})", "'retries' must be a whole number");
  expect_refused(R"({"command": "a", "retries": -1})",
                 "'retries' must be a whole number from 0 to 100");  // the service's limit
  expect_refused(R"({"command": "a", "retries": 1.5})", "'retries' must be a whole number");
  expect_refused(R"({"command": "a", "retries": 4294967296})", "'retries'");
  expect_refused(R"({"command": "a", "priority": 2147483648})", "'priority'");
  expect_refused(R"({"command": "a", "priority": true})", "'priority'");
  expect_refused(R"({"command": "a", "env": ["A=1"]})", "'env' must be an object");
  expect_refused(R"({"command": "a", "env": {"A": 1}})", "'env' value of 'A'");
  expect_refused(R"({"command": "a", "idempotency_key": 7})", "'idempotency_key'");
  expect_refused(R"({"command": "a", "comand": "b"})", "unknown field 'comand'");
}

TEST(ParseSubmit, TakesTheExtremesOfTheNumberRanges) {
  auto r = parse_submit(R"({"command": "a", "retries": 4294967295, "priority": -2147483648})");
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(r.value.retries(), 4294967295u);  // the service, not the parser, sets the limit
  EXPECT_EQ(r.value.priority(), -2147483647 - 1);
}

TEST(ParseListQuery, ReadsFiltersAndPaging) {
  auto r = parse_list_query({{"status", "running"},
                             {"q", "make"},
                             {"limit", "25"},
                             {"page_token", "17"},
                             {"_", "cache-buster"}});
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(r.value.status(), nomad_lite::JOB_STATUS_RUNNING);
  EXPECT_EQ(r.value.query(), "make");
  EXPECT_EQ(r.value.limit(), 25u);
  EXPECT_EQ(r.value.page_token(), "17");
  auto empty_status = parse_list_query({{"status", ""}});
  ASSERT_TRUE(empty_status.ok());
  EXPECT_EQ(empty_status.value.status(), nomad_lite::JOB_STATUS_UNSPECIFIED);
}

TEST(ParseListQuery, RefusesBadParameters) {
  for (const QueryParams& params :
       {QueryParams{{"status", "done"}}, QueryParams{{"limit", "0"}},
        QueryParams{{"limit", "1001"}}, QueryParams{{"limit", "-1"}}, QueryParams{{"limit", "ten"}},
        QueryParams{{"limit", ""}}, QueryParams{{"status", "running"}, {"status", "failed"}}}) {
    auto r = parse_list_query(params);
    EXPECT_FALSE(r.ok()) << params.begin()->first << "=" << params.begin()->second;
    EXPECT_EQ(r.error.code, Code::kInvalidArgument);
  }
  EXPECT_NE(parse_list_query({{"status", "done"}}).error.message.find("status 'done'"),
            std::string::npos);
  EXPECT_NE(parse_list_query({{"limit", "1001"}}).error.message.find("1 to 1000"),
            std::string::npos);
}

TEST(ParseLogsQuery, ReadsStreamFollowAttemptAndOffset) {
  auto r = parse_logs_query(
      "job-1", {{"stream", "stderr"}, {"follow", "1"}, {"attempt", "2"}, {"offset", "1024"}});
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(r.value.job_id(), "job-1");
  EXPECT_TRUE(r.value.stderr());
  EXPECT_TRUE(r.value.follow());
  EXPECT_EQ(r.value.attempt(), 2u);
  EXPECT_EQ(r.value.offset(), 1024u);
  auto plain = parse_logs_query("job-1", {});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain.value.stderr());
  EXPECT_FALSE(plain.value.follow());
  EXPECT_EQ(plain.value.attempt(), 0u);  // the current attempt
}

TEST(ParseLogsQuery, RefusesBadParametersNamingThem) {
  EXPECT_NE(parse_logs_query("j", {{"stream", "both"}}).error.message.find("stream 'both'"),
            std::string::npos);
  EXPECT_NE(parse_logs_query("j", {{"follow", "yes"}}).error.message.find("follow 'yes'"),
            std::string::npos);
  EXPECT_NE(parse_logs_query("j", {{"attempt", "0"}}).error.message.find("attempt '0'"),
            std::string::npos);
  EXPECT_NE(parse_logs_query("j", {{"attempt", "x"}}).error.message.find("attempt 'x'"),
            std::string::npos);
  EXPECT_NE(parse_logs_query("j", {{"offset", "-3"}}).error.message.find("offset '-3'"),
            std::string::npos);
}

TEST(ParseUnsigned, AcceptsOnlyPlainDecimalsWithinTheLimit) {
  uint64_t v = 0;
  EXPECT_TRUE(parse_unsigned("0", 10, &v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(parse_unsigned("18446744073709551615", UINT64_MAX, &v));
  EXPECT_EQ(v, UINT64_MAX);
  EXPECT_FALSE(parse_unsigned("18446744073709551616", UINT64_MAX, &v));
  EXPECT_FALSE(parse_unsigned("11", 10, &v));
  EXPECT_FALSE(parse_unsigned("+1", 10, &v));
  EXPECT_FALSE(parse_unsigned(" 1", 10, &v));
  EXPECT_FALSE(parse_unsigned("", 10, &v));
}

TEST(ParseSubmit, ADuplicateKeyIsRefusedNamingIt) {
  auto out = parse_submit(R"({"command": "echo a", "retries": 1, "command": "echo b"})");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error.code, api::Code::kInvalidArgument);
  EXPECT_NE(out.error.message.find("'command' appears more than once"), std::string::npos)
      << out.error.message;
  auto nested = parse_submit(R"({"command": "x", "env": {"A": "1", "A": "2"}})");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error.message.find("'A'"), std::string::npos) << nested.error.message;
  // The same key in two different objects is no duplicate.
  EXPECT_TRUE(parse_submit(R"({"command": "x", "env": {"command": "1"}})").ok());
}

TEST(ParseJsonStrict, NamesTheFirstKeyGivenTwiceInOneObject) {
  std::string error;
  auto doc = parse_json_strict(R"({"a": 1, "b": {"c": 1, "c": 2}, "a": 3})", &error);
  EXPECT_FALSE(doc.is_discarded());
  EXPECT_NE(error.find("the key 'c' appears more than once"), std::string::npos) << error;
  error.clear();
  parse_json_strict(R"({"a": {"x": 1}, "b": {"x": 1}})", &error);
  EXPECT_EQ(error, "");
  EXPECT_TRUE(parse_json_strict("{", &error).is_discarded());
}

TEST(ParseSubmit, ErrorsQuoteOnlyAShortPrefixOfTheInput) {
  std::string key(10240, 'k');
  auto out = parse_submit("{\"command\": \"x\", \"" + key + "\": 1}");
  ASSERT_FALSE(out.ok());
  EXPECT_LT(out.error.message.size(), 300u);
  EXPECT_NE(out.error.message.find("(10240 bytes)"), std::string::npos) << out.error.message;
}

TEST(ParseReadOptions, TakesMinIndexAndConsistent) {
  uint64_t min_index = 0;
  bool consistent = false;
  QueryParams params{{"min_index", "812"}, {"consistent", "1"}};
  EXPECT_EQ(parse_read_options(params, &min_index, &consistent).code, Code::kOk);
  EXPECT_EQ(min_index, 812u);
  EXPECT_TRUE(consistent);

  auto list = parse_list_query({{"consistent", "true"}, {"min_index", "5"}});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list.value.consistent());
  EXPECT_EQ(list.value.min_index(), 5u);
  auto logs = parse_logs_query("j", {{"min_index", "7"}});
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(logs.value.min_index(), 7u);
}

TEST(ParseReadOptions, RefusesBadValuesNamingThem) {
  uint64_t min_index = 0;
  bool consistent = false;
  auto bad_index = parse_read_options({{"min_index", "-1"}}, &min_index, &consistent);
  EXPECT_EQ(bad_index.code, Code::kInvalidArgument);
  EXPECT_NE(bad_index.message.find("min_index"), std::string::npos);
  auto bad_flag = parse_read_options({{"consistent", "maybe"}}, &min_index, &consistent);
  EXPECT_EQ(bad_flag.code, Code::kInvalidArgument);
  EXPECT_NE(bad_flag.message.find("consistent"), std::string::npos);
  EXPECT_FALSE(parse_list_query({{"min_index", "x"}}).ok());
}

}  // namespace
}  // namespace nomad::http
