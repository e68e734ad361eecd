// The start-up checks that keep the node's secrets from its jobs' user (node/secret_files.h),
// on real files and directories with real modes.

#include "server/secret_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace nomad::server {
namespace {

class SecretFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(worker::lookup_identity("nobody", &nobody_).is_ok());
    std::string dir = (std::filesystem::temp_directory_path() / "nomad-secrets-XXXXXX").string();
    root_ = mkdtemp(dir.data());
    chmod(root_.c_str(), 0755);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string make(const std::string& name, mode_t mode) {
    std::string path = root_ + "/" + name;
    std::ofstream(path) << "secret";
    chmod(path.c_str(), mode);
    return path;
  }
  static mode_t mode_of(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
  }

  worker::Identity nobody_;
  std::string root_;
};

TEST_F(SecretFiles, ReadableMeansTheFileAndEveryDirectoryOnTheWayAllowIt) {
  EXPECT_TRUE(accessible_by(make("open", 0644), nobody_, true));
  EXPECT_FALSE(accessible_by(make("private", 0600), nobody_, true));
  EXPECT_FALSE(accessible_by(root_ + "/missing", nobody_, true));
  std::filesystem::create_directory(root_ + "/closed");
  chmod((root_ + "/closed").c_str(), 0700);
  std::ofstream(root_ + "/closed/open") << "x";
  chmod((root_ + "/closed/open").c_str(), 0644);
  EXPECT_FALSE(accessible_by(root_ + "/closed/open", nobody_, true)) << "the directory stops it";
  chmod((root_ + "/closed").c_str(), 0711);
  EXPECT_TRUE(accessible_by(root_ + "/closed/open", nobody_, true)) << "searchable is enough";
}

TEST_F(SecretFiles, AKeyOrTokenFileTheJobUserCanReadIsRefusedWithTheChmod) {
  ServerConfig config;
  config.job_user = "nobody";
  config.token_file = make("tokens", 0600);
  config.tls_cert = make("node-1.pem", 0644);
  config.tls_key = make("node-1-key.pem", 0600);
  config.tls_ca = make("ca.pem", 0644);
  EXPECT_TRUE(check_secrets_private(config).is_ok());
  std::string ca_key = make("ca-key.pem", 0644);
  EXPECT_EQ(check_secrets_private(config).message(),
            "the CA key " + ca_key +
                " is readable by user nobody, who runs the jobs: make it "
                "private (chmod 600 " +
                ca_key + ") or use another --job-user");
  chmod(ca_key.c_str(), 0600);
  chmod(config.token_file.c_str(), 0604);
  EXPECT_NE(check_secrets_private(config).message().find("the token file (--token-file)"),
            std::string::npos);
  config.job_user = "";  // jobs run as the server's own user: nothing to keep apart
  EXPECT_TRUE(check_secrets_private(config).is_ok());
}

TEST_F(SecretFiles, TheDataDirectoryIsMadeSearchableButNotListable) {
  ServerConfig config;
  config.job_user = "nobody";
  std::filesystem::create_directory(root_ + "/wal");
  chmod((root_ + "/wal").c_str(), 0755);  // as an earlier version left it
  ASSERT_TRUE(make_data_dir_private(root_, config).is_ok());
  EXPECT_EQ(mode_of(root_), 0711u);
  EXPECT_EQ(mode_of(root_ + "/wal"), 0700u);
  EXPECT_EQ(mode_of(root_ + "/snap"), 0700u);
  EXPECT_EQ(mode_of(root_ + "/jobs"), 0711u);
}

}  // namespace
}  // namespace nomad::server
