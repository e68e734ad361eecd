#include "server/secret_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <vector>

namespace nomad::server {
namespace {

// The permission bits of `st` that apply to `user`: owner, group or other (as the kernel picks).
mode_t bits_for(const struct stat& st, const worker::Identity& user) {
  if (st.st_uid == user.uid) return (st.st_mode >> 6) & 7;
  bool in_group = st.st_gid == user.gid ||
                  std::find(user.groups.begin(), user.groups.end(), st.st_gid) != user.groups.end();
  return in_group ? (st.st_mode >> 3) & 7 : st.st_mode & 7;
}

std::string fix_for(const std::string& path, bool is_dir) {
  return "chmod " + std::string(is_dir ? "700 " : "600 ") + path;
}

}  // namespace

bool accessible_by(const std::string& path, const worker::Identity& user, bool want_read) {
  std::error_code ec;
  std::filesystem::path full = std::filesystem::weakly_canonical(path, ec);
  if (ec) return false;
  std::filesystem::path dir;
  for (auto it = full.begin(); it != full.end(); ++it) {
    dir /= *it;
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return false;
    const bool last = std::next(it) == full.end();
    mode_t need = last && want_read ? 4 : 1;  // read the last, search the directories before
    if (user.uid != 0 && (bits_for(st, user) & need) == 0) return false;
  }
  return true;
}

Status check_secrets_private(const ServerConfig& config) {
  if (config.job_user.empty()) return Status::ok();
  worker::Identity user;
  if (Status s = worker::lookup_identity(config.job_user, &user); !s) {
    return Status::error("cannot run jobs as '" + config.job_user + "': " + s.message());
  }
  struct Secret {
    std::string what, path;
  };
  std::vector<Secret> secrets;
  if (!config.token_file.empty())
    secrets.push_back({"the token file (--token-file)", config.token_file});
  if (!config.tls_key.empty()) secrets.push_back({"the TLS key (--tls-key)", config.tls_key});
  // A CA key kept next to the certificates (as `tls init` leaves it) signs certificates any
  // node or client would accept.
  for (const std::string& pem : {config.tls_ca, config.tls_cert, config.tls_key}) {
    if (pem.empty()) continue;
    std::string ca_key = (std::filesystem::path(pem).parent_path() / "ca-key.pem").string();
    bool seen = std::any_of(secrets.begin(), secrets.end(),
                            [&](const Secret& s) { return s.path == ca_key; });
    if (!seen && std::filesystem::exists(ca_key)) secrets.push_back({"the CA key", ca_key});
  }
  for (const auto& s : secrets) {
    if (accessible_by(s.path, user, true)) {
      return Status::error(s.what + " " + s.path + " is readable by user " + user.name +
                           ", who runs the jobs: make it private (" + fix_for(s.path, false) +
                           ") or use another --job-user");
    }
  }
  return Status::ok();
}

Status make_data_dir_private(const std::string& dir, const ServerConfig& config) {
  worker::Identity user;
  if (config.job_user.empty() || !worker::lookup_identity(config.job_user, &user)) {
    return Status::ok();  // jobs run as the server's user: they could read it all anyway
  }
  auto refuse = [&](const std::string& what, const std::string& path, const std::string& mode) {
    return Status::error(what + " " + path + " can be listed by user " + user.name +
                         ", who runs the jobs: make it private (chmod " + mode + " " + path +
                         ") or use another --job-user");
  };
  // Listing the data directory would name every job; its log and snapshots hold every command.
  struct stat st;
  if (stat(dir.c_str(), &st) == 0 && (bits_for(st, user) & 4) != 0) {
    if (st.st_uid != geteuid()) return refuse("the data directory", dir, "711");
    if (chmod(dir.c_str(), st.st_mode & 07711) != 0)
      return refuse("the data directory", dir, "711");
  }
  // jobs/ may be searched (the way to each work directory), not listed.
  for (auto [sub, mode] : {std::pair{"wal", 0700}, {"snap", 0700}, {"jobs", 0711}}) {
    std::string path = dir + "/" + sub;
    if (stat(path.c_str(), &st) != 0) {
      if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
        return Status::error("cannot create " + path + ": " +
                             std::generic_category().message(errno));
      }
      continue;
    }
    const mode_t forbidden = mode == 0700 ? 5 : 4;
    if ((bits_for(st, user) & forbidden) == 0) continue;
    // Made by an earlier version with the umask's mode: ours to fix.
    if (st.st_uid != geteuid() || chmod(path.c_str(), mode) != 0) {
      return refuse("the directory", path, mode == 0700 ? "700" : "711");
    }
  }
  return Status::ok();
}

}  // namespace nomad::server
