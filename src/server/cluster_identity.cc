#include "server/cluster_identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace nomad::server {
namespace {

constexpr const char* kFile = "cluster.json";

Status sync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Status::error("cannot open " + path + ": " + strerror(errno));
  int rc = ::fsync(fd);
  int error_number = errno;
  ::close(fd);
  if (rc != 0) return Status::error("cannot sync " + path + ": " + strerror(error_number));
  return Status::ok();
}

}  // namespace

std::string bootstrap_cluster_name(uint64_t self, const std::vector<PeerAddress>& peers) {
  std::vector<uint64_t> ids{self};
  for (const auto& p : peers) ids.push_back(p.id);
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (uint64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

bool holds_state(const std::string& data_dir) {
  std::error_code ec;
  for (const char* sub : {"wal", "snap"}) {
    auto dir = std::filesystem::path(data_dir) / sub;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
      if (item.is_regular_file(ec)) return true;
    }
  }
  return false;
}

Status load_cluster_identity(const std::string& data_dir, std::optional<ClusterIdentity>* out) {
  out->reset();
  const std::string path = (std::filesystem::path(data_dir) / kFile).string();
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT || !std::filesystem::exists(path)) return Status::ok();
    return Status::error("cannot read " + path + ": " + strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto bad = [&](const std::string& why) {
    return Status::error(path + " is damaged (" + why +
                         "); restore it from a backup, or give this node a new --data-dir and "
                         "add it to the cluster again");
  };
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (!j.contains("cluster") || !j["cluster"].is_string()) return bad("no \"cluster\" string");
  ClusterIdentity id;
  id.cluster = j["cluster"].get<std::string>();
  id.joined = j.value("joined", false);
  if (j.contains("bootstrap")) {
    if (!j["bootstrap"].is_array()) return bad("\"bootstrap\" is not an array");
    for (const auto& p : j["bootstrap"]) {
      if (!p.is_object() || !p.contains("id") || !p["id"].is_number_unsigned() ||
          !p.contains("host") || !p["host"].is_string() || !p.contains("port") ||
          !p["port"].is_number_unsigned() || p["port"].get<uint64_t>() > 65535) {
        return bad("a bootstrap member is not {\"id\", \"host\", \"port\"}");
      }
      id.bootstrap.push_back({p["id"].get<uint64_t>(), p["host"].get<std::string>(),
                              static_cast<uint16_t>(p["port"].get<uint64_t>())});
    }
  }
  *out = std::move(id);
  return Status::ok();
}

Status save_cluster_identity(const std::string& data_dir, const ClusterIdentity& identity) {
  nlohmann::json bootstrap = nlohmann::json::array();
  for (const auto& p : identity.bootstrap) {
    bootstrap.push_back({{"id", p.id}, {"host", p.host}, {"port", p.port}});
  }
  nlohmann::json j = {
      {"cluster", identity.cluster}, {"joined", identity.joined}, {"bootstrap", bootstrap}};
  const std::string path = (std::filesystem::path(data_dir) / kFile).string();
  const std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::error("cannot create " + temp + ": " + strerror(errno));
  std::string text = j.dump(2) + "\n";
  ssize_t written = ::write(fd, text.data(), text.size());
  int error_number = errno;
  bool synced = written == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  if (!synced && written == static_cast<ssize_t>(text.size())) error_number = errno;
  ::close(fd);
  if (!synced) return Status::error("cannot write " + temp + ": " + strerror(error_number));
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::error("cannot rename " + temp + " to " + path + ": " + strerror(errno));
  }
  return sync_path(data_dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace nomad::server
