// Bearer tokens: the token file's format and errors, and who may do what.

#include "api/auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace nomad::api {
namespace {

const std::string kRead = "read-token-0123456789";
const std::string kSubmit = "submit-token-0123456789";
const std::string kOperator = "operator-token-0123456789";

Authenticator three_roles() {
  Authenticator auth;
  Status s = Authenticator::parse("# tokens\n\nread " + kRead + "\nsubmit " + kSubmit +
                                      "  # the CI's\noperator\t" + kOperator + "\n",
                                  "tokens", &auth);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return auth;
}

std::string parse_error(const std::string& text) {
  Authenticator auth;
  Status s = Authenticator::parse(text, "--token-file t", &auth);
  EXPECT_FALSE(s.is_ok()) << text;
  return s.message();
}

TEST(Auth, WithoutTokensEverythingIsAllowed) {
  Authenticator open;
  EXPECT_FALSE(open.enabled());
  EXPECT_TRUE(open.authorize("", Role::kOperator).ok());
  EXPECT_TRUE(open.authorize("Bearer whatever", Role::kSubmit).ok());
}

TEST(Auth, RolesNest) {
  Authenticator auth = three_roles();
  ASSERT_TRUE(auth.enabled());
  struct Case {
    const std::string& token;
    Role needed;
    Refusal expected;
  };
  for (const Case& c :
       {Case{kRead, Role::kRead, Refusal::kNone},
        Case{kRead, Role::kSubmit, Refusal::kPermissionDenied},
        Case{kRead, Role::kOperator, Refusal::kPermissionDenied},
        Case{kSubmit, Role::kRead, Refusal::kNone}, Case{kSubmit, Role::kSubmit, Refusal::kNone},
        Case{kSubmit, Role::kOperator, Refusal::kPermissionDenied},
        Case{kOperator, Role::kRead, Refusal::kNone},
        Case{kOperator, Role::kSubmit, Refusal::kNone},
        Case{kOperator, Role::kOperator, Refusal::kNone}}) {
    AuthDecision d = auth.authorize("Bearer " + c.token, c.needed);
    EXPECT_EQ(d.refusal, c.expected) << c.token << " for " << role_name(c.needed);
  }
  EXPECT_EQ(auth.authorize("Bearer " + kRead, Role::kSubmit).message,
            "the token's role (read) may not do this; it needs the submit role");
}

TEST(Auth, TheMetricsRoleMayOnlyScrape) {
  const std::string metrics = "metrics-token-0123456789";
  Authenticator auth;
  Status s = Authenticator::parse("metrics " + metrics + "\nread " + kRead, "tokens", &auth);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_TRUE(auth.authorize("Bearer " + metrics, Role::kMetrics).ok());
  EXPECT_TRUE(auth.authorize("Bearer " + kRead, Role::kMetrics).ok());
  for (Role above : {Role::kRead, Role::kSubmit, Role::kOperator}) {
    AuthDecision d = auth.authorize("Bearer " + metrics, above);
    EXPECT_EQ(d.refusal, Refusal::kPermissionDenied) << role_name(above);
  }
  EXPECT_EQ(auth.authorize("Bearer " + metrics, Role::kRead).message,
            "the token's role (metrics) may not do this; it needs the read role");
  EXPECT_TRUE(auth.peer_token().empty());  // a metrics token never serves between nodes
}

TEST(Auth, MissingMalformedAndWrongTokensAreUnauthenticated) {
  Authenticator auth = three_roles();
  AuthDecision missing = auth.authorize("", Role::kRead);
  EXPECT_EQ(missing.refusal, Refusal::kUnauthenticated);
  EXPECT_NE(missing.message.find("requires a token"), std::string::npos);
  EXPECT_NE(missing.message.find("NOMAD_LITE_TOKEN"), std::string::npos);
  for (const std::string& bad :
       std::vector<std::string>{"Basic " + kOperator, kOperator, "Bearer", "Bearer ", "Bearer x",
                                "Bearer " + kOperator + "x", "Bearer " + kOperator.substr(1)}) {
    AuthDecision d = auth.authorize(bad, Role::kRead);
    EXPECT_EQ(d.refusal, Refusal::kUnauthenticated) << bad;
    // The refusal never repeats what was sent: it may be a real token of another system.
    EXPECT_EQ(d.message.find(kOperator.substr(0, 10)), std::string::npos) << d.message;
  }
  // The scheme is case-insensitive (RFC 7235).
  EXPECT_TRUE(auth.authorize("bearer " + kRead, Role::kRead).ok());
  EXPECT_TRUE(auth.authorize("BEARER " + kRead, Role::kRead).ok());
}

TEST(Auth, PeerTokenIsTheFirstOperatorToken) {
  EXPECT_EQ(three_roles().peer_token(), kOperator);
  Authenticator no_operator;
  ASSERT_TRUE(Authenticator::parse("read " + kRead, "t", &no_operator).is_ok());
  EXPECT_EQ(no_operator.peer_token(), "");
}

TEST(Auth, TokenFileErrorsNameTheLineAndTheFix) {
  EXPECT_EQ(parse_error("admin " + kRead),
            "--token-file t line 1: 'admin' is not a role; write ROLE TOKEN with ROLE metrics, "
            "read, submit or operator");
  EXPECT_EQ(parse_error("# c\nread"), "--token-file t line 2: the token is missing after the role");
  EXPECT_EQ(parse_error("read " + kRead + " extra"),
            "--token-file t line 1: write ROLE TOKEN, nothing after the token");
  EXPECT_NE(parse_error("read short").find("shorter than 16 characters"), std::string::npos);
  EXPECT_NE(parse_error("read " + kRead + "\"quote").find("only letters, digits"),
            std::string::npos);
  EXPECT_EQ(parse_error("read " + kRead + "\nsubmit " + kRead),
            "--token-file t line 2: this token is listed twice");
  EXPECT_EQ(parse_error("# nothing\n\n"),
            "--token-file t: no tokens; write one per line as ROLE TOKEN");
  EXPECT_EQ(parse_error(""), "--token-file t: no tokens; write one per line as ROLE TOKEN");
}

TEST(Auth, TokenFileMustNotBeReadableByOthers) {
  auto dir = std::filesystem::temp_directory_path() / ("nomad-auth-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "tokens").string();
  std::ofstream(path) << "operator " << kOperator << "\n";
  Authenticator auth;

  chmod(path.c_str(), 0644);
  Status s = Authenticator::load(path, &auth);
  EXPECT_EQ(s.message(),
            "--token-file " + path + ": other users can read or write it; run chmod 600 " + path);

  chmod(path.c_str(), 0640);
  ASSERT_TRUE(Authenticator::load(path, &auth).is_ok());
  EXPECT_TRUE(auth.authorize("Bearer " + kOperator, Role::kOperator).ok());

  s = Authenticator::load((dir / "missing").string(), &auth);
  EXPECT_EQ(s.message(),
            "--token-file " + (dir / "missing").string() + ": No such file or directory");
  s = Authenticator::load(dir.string(), &auth);
  EXPECT_EQ(s.message(), "--token-file " + dir.string() + ": not a regular file");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nomad::api
