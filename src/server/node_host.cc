#include "server/node_host.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "server/backup.h"
#include "server/secret_files.h"

namespace nomad::server {
namespace {

Status check_writable(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::error("cannot create data directory " + dir + ": " + ec.message());
  std::string probe = dir + "/.write-test";
  FILE* f = fopen(probe.c_str(), "w");
  if (!f) return Status::error("data directory " + dir + " is not writable: " + strerror(errno));
  fclose(f);
  std::filesystem::remove(probe, ec);
  return Status::ok();
}

}  // namespace

NodeHost::NodeHost(const node::ServerConfig& config, const std::string& cluster,
                   const std::vector<PeerAddress>& seed)
    : config_(config),
      log_(config.effective_data_dir() + "/wal",
           {.node_id = config.node_id, .cluster = cluster, .fsync = config.fsync}),
      snapshots_(config.effective_data_dir() + "/snap", config.fsync),
      peers_(config.node_id, seed.empty() ? config.peers : seed),
      worker_(config),
      node_(config,
            {.log = &log_, .snapshots = &snapshots_, .peers = &peers_, .worker = &worker_}) {
  worker_.attach(node_);
}

Status NodeHost::start() {
  const std::string dir = config_.effective_data_dir();
  if (Status s = check_writable(dir); !s) return s;
  if (Status s = make_data_dir_private(dir, config_); !s) return s;
  return node_.start();
}

}  // namespace nomad::server
